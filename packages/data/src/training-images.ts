import { readImageInfo } from './image-file.js';
import { mapLimit } from './map-limit.js';
import { imageName, listHrFiles, resolveSetDir } from './set-folders.js';

/** One HR training image, sized from its header so that samplers can plan without decoding. */
export interface TrainingImage {
  set: string;
  name: string;
  path: string;
  width: number;
  height: number;
  channels: 1 | 3;
}

/**
 * The HR images of the named sets under the data root (e.g. `['T91', 'BSD200']`), set by set in
 * the order given, each set sorted by file name. An unknown set is a DataError listing those there.
 */
export async function listTrainingImages(root: string, sets: readonly string[]): Promise<TrainingImage[]> {
  const out: TrainingImage[] = [];
  for (const set of sets) {
    const files = await listHrFiles(resolveSetDir(root, set));
    const infos = await mapLimit(files, 16, (path) => readImageInfo(path));
    files.forEach((path, i) => {
      const { width, height, channels } = infos[i];
      out.push({ set, name: imageName(path), path, width, height, channels });
    });
  }
  return out;
}
