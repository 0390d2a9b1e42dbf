import { make } from './sqlite.js'
const p = make('FULL')
export const info = p.info
export const open = p.open
