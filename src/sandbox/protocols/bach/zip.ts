/**
 * ZIP archives of a sync submit (**ASSUMED** details, protocols/bach.md): each image entry becomes
 * one item named `<zip name>/<entry path>` at the ZIP's index; other entries and directories are
 * ignored; an entry over 10 MB fails on its own; an unreadable or image-less ZIP is one failed item.
 */
import yauzl from 'yauzl';
import { LIMITS, MESSAGES, extensionOf, isZipImageEntry, zipImageName } from '../../../providers/bach/contract.js';
import type { ContentStore, Ingested } from '../../kit/store.js';
import type { BachItem } from './batches.js';

export async function expandZip(store: ContentStore, path: string, index: number, zipName: string): Promise<BachItem[]> {
  const position = index + 1;
  const failItem = (message: string, name = zipName): BachItem => ({
    index,
    image_name: name,
    kind: 'zip',
    error_message: message,
    done: true,
  });
  let zip: yauzl.ZipFile;
  try {
    zip = await yauzl.openPromise(path, { lazyEntries: true, autoClose: false, strictFileNames: false });
  } catch {
    return [failItem(MESSAGES.badZip(position, zipName))];
  }
  const items: BachItem[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      zip.on('error', reject);
      zip.on('end', () => resolve());
      zip.on('entry', (entry: yauzl.Entry) => {
        handleEntry(entry).then(() => zip.readEntry(), reject);
      });
      zip.readEntry();
    });
  } catch {
    items.push(failItem(MESSAGES.badZip(position, zipName)));
  } finally {
    zip.close();
  }
  if (items.length === 0) items.push(failItem(MESSAGES.zipEmpty(position, zipName)));
  return items;

  async function handleEntry(entry: yauzl.Entry): Promise<void> {
    if (!isZipImageEntry(entry.fileName)) return;
    const imageName = zipImageName(zipName, entry.fileName);
    const base = { index, image_name: imageName, kind: 'zip-entry' as const, done: true };
    if (entry.uncompressedSize > LIMITS.maxFileSize) {
      items.push({ ...base, error_message: MESSAGES.tooLarge(position, imageName, entry.uncompressedSize) });
      return;
    }
    let ing: Ingested;
    try {
      const stream = await zip.openReadStreamPromise(entry);
      ing = await store.ingest(stream, LIMITS.maxFileSize);
    } catch {
      items.push({ ...base, error_message: MESSAGES.zipEntryFailed(position, imageName) });
      return;
    }
    if (ing.overLimit) {
      await store.discard(ing);
      items.push({ ...base, error_message: MESSAGES.tooLarge(position, imageName, ing.size) });
      return;
    }
    const { sha256, size } = await store.commit(ing);
    items.push({ ...base, sha256, size, ext: extensionOf(entry.fileName) });
  }
}
