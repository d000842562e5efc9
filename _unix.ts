// Serving on a Unix domain socket: a lock file marks a live server (so a
// second server fails at once, and a socket left by a dead one is known to be
// stale), the socket is owner-only, and shutdown removes only the socket this
// server created.

/** A bound Unix socket and what it takes to clean up after it. */
export interface UnixBinding {
  readonly listener: Deno.Listener;
  /** Removes the socket (only if it is still ours) and the lock. */
  release(): void;
}

/**
 * Binds `path`. A lock on `PATH.lock`, held for the server's life and freed
 * by the kernel when the process dies, tells a live server from a stale
 * socket file synchronously.
 *
 * @throws {Deno.errors.AddrInUse} When a live server holds the path, or a
 * file that is not a socket is there.
 */
export function bindUnix(path: string): UnixBinding {
  const lockPath = `${path}.lock`;
  const lock = Deno.openSync(lockPath, { read: true, write: true, create: true, mode: 0o600 });
  let locked = false;
  try {
    locked = lock.tryLockSync(true);
    if (!locked) {
      throw new Deno.errors.AddrInUse(`Cannot serve on ${path}: another server is listening there`);
    }
    const stale = lstatOrUndefined(path);
    if (stale !== undefined) {
      if (!stale.isSocket) {
        throw new Deno.errors.AddrInUse(
          `Cannot serve on ${path}: a file that is not a socket is there`,
        );
      }
      // No live server holds the lock: the socket was left by a dead one.
      Deno.removeSync(path);
    }
    const listener = Deno.listen({ transport: "unix", path });
    const ours = Deno.lstatSync(path);
    // Never follow a link: only the socket just created is made owner-only.
    if (ours.isSocket) Deno.chmodSync(path, 0o600);
    return {
      listener,
      release() {
        const now = lstatOrUndefined(path);
        if (now?.isSocket && now.ino === ours.ino && now.dev === ours.dev) {
          removeQuietly(path);
        }
        removeQuietly(lockPath);
        lock.close();
      },
    };
  } catch (error) {
    if (locked) removeQuietly(lockPath);
    lock.close();
    throw error;
  }
}

function lstatOrUndefined(path: string): Deno.FileInfo | undefined {
  try {
    return Deno.lstatSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

function removeQuietly(path: string): void {
  try {
    Deno.removeSync(path);
  } catch {
    // Already gone.
  }
}
