/** Where bach lives on the sandbox's origin (the vendor's base is `https://…/api/vdr`). */
export const BACH_BASE = '/api/vdr';
