// t:md5 / t:sha1: the raw binary digest (16 / 20 bytes), as ModSecurity; chain t:hexEncode for text.
import { createHash } from 'node:crypto';

export function md5(input: string): string {
  return createHash('md5').update(input, 'latin1').digest().toString('latin1');
}

export function sha1(input: string): string {
  return createHash('sha1').update(input, 'latin1').digest().toString('latin1');
}
