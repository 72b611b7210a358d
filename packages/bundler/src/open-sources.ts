// Turn an image source string into image sources: local transports (oci:, oci-archive:,
// docker-archive:) from @ferry/oci; registry references go to the registry client.

import { openLocalImageSources, type ImageSource } from '@ferry/oci';

export async function openImageSources(source: string): Promise<ImageSource[]> {
  return openLocalImageSources(source);
}
