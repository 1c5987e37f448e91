/** Where aihub lives on the sandbox's origin: its API root is `/api` (the vendor's `https://…/api`), paths start `/v2/`. */
export const AIHUB_ROOT = '/api';
export const AIHUB_BASE = `${AIHUB_ROOT}/v2`;
