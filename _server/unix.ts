// Serving on a Unix domain socket: a lock file marks a live server (so a
// second server fails at once, and a socket left by a dead one is known to be
// stale), the socket is owner-only, and shutdown removes only the socket this
// server created.

/** A bound Unix socket and what it takes to clean up after it. */
export interface UnixBinding {
  readonly listener: Deno.Listener;
  /** Stops listening. Idempotent. */
  close(): void;
  /**
   * Once the listener is gone (its accept loop ended): removes the socket,
   * only if it is still ours, and the lock.
   */
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
    // Never follow a link: only the socket just created is made owner-only.
    if (Deno.lstatSync(path).isSocket) Deno.chmodSync(path, 0o600);
    const ours = Deno.lstatSync(path);
    let closed = false;
    let kept = false;
    let foreign = false;
    const aside = `${lockPath}.keep`;
    return {
      listener,
      close() {
        if (closed) return;
        closed = true;
        const now = lstatOrUndefined(path);
        foreign = now !== undefined && !sameFile(now, ours);
        // Deno unlinks the listener's path once the listener is dropped,
        // whatever is there by then: keep a foreign file under a second name.
        if (foreign) removeQuietly(aside);
        kept = foreign && tryQuietly(() => Deno.linkSync(path, aside));
        try {
          listener.close();
        } catch {
          // Already closed.
        }
      },
      release() {
        if (kept) {
          if (lstatOrUndefined(path) === undefined) tryQuietly(() => Deno.renameSync(aside, path));
          removeQuietly(aside);
        } else if (!foreign) {
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
  tryQuietly(() => Deno.removeSync(path));
}

function tryQuietly(action: () => void): boolean {
  try {
    action();
    return true;
  } catch {
    return false;
  }
}

/**
 * Whether two stats are of one file. An inode number may be reused by a
 * socket bound after ours was removed: the birth time (where the system
 * keeps it) tells them apart.
 */
function sameFile(a: Deno.FileInfo, b: Deno.FileInfo): boolean {
  return a.isSocket === true && a.ino === b.ino && a.dev === b.dev &&
    a.birthtime?.getTime() === b.birthtime?.getTime() &&
    a.ctime?.getTime() === b.ctime?.getTime();
}
