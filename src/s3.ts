/**
 * `seglog/s3`: {@link S3Store}, a journal store on Amazon S3 or an S3-compatible service. Its
 * types name the AWS SDK's, so this entry point needs the optional peer `@aws-sdk/client-s3`
 * installed (at run time it is loaded only when the store first talks to S3).
 */
export { S3Store, type S3StoreOptions } from './objects/s3.js'
