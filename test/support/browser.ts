/** The Chromium binary the browser tests drive (checked, or installed, by ensure-chromium.mjs before `npm test`). */
export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
