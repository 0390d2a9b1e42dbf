import { make } from './sqlite.js'
const p = make('NORMAL')
export const info = p.info
export const open = p.open
