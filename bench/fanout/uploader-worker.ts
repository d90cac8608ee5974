/**
 * Worker-thread entry running the stream uploader beside the listeners' thread, so a busy
 * listener event loop does not hold back the broadcast's real-time schedule.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { FANOUT_PRESETS, type FanoutPresetName } from './fanout-presets.ts';
import { runUploader, type UploadTarget } from './stream-uploader.ts';

interface UploaderWorkerData {
  target: UploadTarget;
  preset: FanoutPresetName;
  sendTimes: SharedArrayBuffer;
  control: SharedArrayBuffer;
}

const data = workerData as UploaderWorkerData;
try {
  const sent = await runUploader(data.target, FANOUT_PRESETS[data.preset], {
    sendTimes: new Float64Array(data.sendTimes),
    control: new Int32Array(data.control),
  });
  parentPort?.postMessage({ type: 'done', sent });
} catch (err) {
  parentPort?.postMessage({ type: 'error', message: (err as Error).message });
}
