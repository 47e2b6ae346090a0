// Opening a file in a workspace folder for writing must not follow a symbolic link: a cloned
// repository can ship `trainer.log -> ~/.bashrc`, and appending to it would write wherever the link
// points. O_NOFOLLOW makes the open itself fail on a link (no window between a check and the open);
// O_NONBLOCK keeps a FIFO planted under the name from blocking the open. Windows has no O_NOFOLLOW:
// there an lstat check comes first (a small race remains, see docs/SECURITY.md).

import * as fs from 'fs';

/** Opens `file` for appending (creating it), refusing a symbolic link or anything but a regular file. */
export function openForAppendNoFollow(file: string): number {
  const { O_WRONLY, O_APPEND, O_CREAT, O_NOFOLLOW, O_NONBLOCK } = fs.constants;
  let fd: number;
  if (O_NOFOLLOW === undefined) {
    let isLink = false;
    try {
      isLink = fs.lstatSync(file).isSymbolicLink();
    } catch {
      /* absent: created below */
    }
    if (isLink) throw new Error(`${file} is a symbolic link; refusing to write through it`);
    fd = fs.openSync(file, 'a');
  } else {
    try {
      fd = fs.openSync(file, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | (O_NONBLOCK ?? 0), 0o644);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ELOOP' || code === 'EMLINK') throw new Error(`${file} is a symbolic link; refusing to write through it`);
      if (code === 'ENXIO') throw new Error(`${file} is not a regular file; refusing to write to it`);
      throw err;
    }
  }
  if (!fs.fstatSync(fd).isFile()) {
    fs.closeSync(fd);
    throw new Error(`${file} is not a regular file; refusing to write to it`);
  }
  return fd;
}
