// Runs every benchmark in this folder, one after another (`npm run bench -- --quick`: one run
// each, smaller inputs).
await import('./small-images.js');
await import('./ingest-limit.js');
await import('./incremental.js');
await import('./scale.js');
await import('./hybrid.js');
await import('./claid-rate.js');
await import('./bwlimit.js');
