// `ferry-bundle plan-media` on the command line, and the burn plan in create's summary when the
// volume size was a disc preset (the plan for that disc then comes for free).

import { writeJson, writeText } from '@ferry/cli-kit';
import { MEDIA_CAPACITY, formatMediaPlan, parseMediaSize, planMedia } from './plan-media.js';

export async function planMediaCmd(a: { path: string; mediaSize: string; json: boolean }): Promise<number> {
  const plan = await planMedia(a.path, parseMediaSize(a.mediaSize));
  if (a.json) writeJson({ ok: true, ...plan });
  else writeText(formatMediaPlan(plan));
  return 0;
}

/** Lines for create's summary: the burn plan for a disc preset, else how to get one. */
export async function burnPlanLines(dir: string, name: string, volumeSize: string): Promise<string[]> {
  const preset = volumeSize.trim().toLowerCase();
  if (!Object.hasOwn(MEDIA_CAPACITY, preset)) {
    return [`Each disc or stick carries ${name}.sha256, ${name}.sha256.sig, ${name}.manifest.json and ${name}.manifest.json.sig beside its volumes; "ferry-bundle plan-media ${dir} --media-size SIZE" says which volumes go where.`];
  }
  const plan = await planMedia(`${dir}/${name}.sha256`, MEDIA_CAPACITY[preset]!.bytes);
  return formatMediaPlan(plan).trimEnd().split('\n');
}
