/**
 * `seglog/azure`: {@link AzureBlobStore}, a journal store on Azure Blob Storage. Its types name the
 * Azure SDK's, so this entry point needs the optional peer `@azure/storage-blob` installed (at run
 * time it is loaded only when the store first talks to Azure).
 */
export { AzureBlobStore, type AzureBlobStoreOptions } from './objects/azure.js'
