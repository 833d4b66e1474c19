// The `tensorflow` backend (libtensorflow through tfjs-node) is a plug-in: those packages download
// libtensorflow at install time, so no @quantnas package depends on them; they are used only when the
// user has installed one.
import { tf } from '../tf.js';
import type { BackendInfo } from '../backend.js';
import { BackendUnavailableError, importFile, messageOf, resolveOptional } from './optional-module.js';

/** In order of preference: CUDA first. */
export const TENSORFLOW_PACKAGES = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'] as const;

/** The first tfjs-node flavour that is installed, or null. */
export async function findTensorflowPackage(): Promise<{ name: string; path: string } | null> {
  for (const name of TENSORFLOW_PACKAGES) {
    const path = await resolveOptional(name);
    if (path) return { name, path };
  }
  return null;
}

export function tensorflowNotInstalledMessage(): string {
  return (
    "backend 'tensorflow' needs @tensorflow/tfjs-node-gpu (NVIDIA CUDA) or @tensorflow/tfjs-node (CPU), " +
    'and neither is installed: install one in your project, e.g. `npm install @tensorflow/tfjs-node@4.22.0` ' +
    '(it downloads libtensorflow when installed), or use --backend wasm'
  );
}

export async function initTensorflow(): Promise<BackendInfo> {
  const found = await findTensorflowPackage();
  if (!found) throw new BackendUnavailableError('tensorflow', tensorflowNotInstalledMessage());
  if (!tf.findBackendFactory('tensorflow')) {
    try {
      await importFile(found.path);
    } catch (error) {
      throw new BackendUnavailableError('tensorflow', `${found.name} is installed but failed to load: ${messageOf(error)}`, { cause: error });
    }
  }
  if (!tf.findBackendFactory('tensorflow')) {
    throw new BackendUnavailableError(
      'tensorflow',
      `${found.name} loaded but registered no 'tensorflow' backend with this @tensorflow/tfjs-core ` +
        `(${tf.version_core}): it must use the same version (check \`npm ls @tensorflow/tfjs-core\`)`,
    );
  }
  const ok = await tf.setBackend('tensorflow');
  if (!ok) {
    tf.removeBackend('tensorflow');
    throw new BackendUnavailableError('tensorflow', `${found.name} failed to start libtensorflow`);
  }
  return { name: 'tensorflow', detail: found.name, tensorflowPackage: found.name };
}
