// Runs every benchmark in this folder, one after another.
await import('./small-images.js');
