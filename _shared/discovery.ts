// Discovery files: a named server writes where it listens and its token to
// a file only its user can read, so other processes of that user find it by
// name (as Jupyter's kernel connection files do). The directory is
// $XDG_RUNTIME_DIR/socketbridge, or /tmp/socketbridge-UID without it; both
// must be 0700 directories owned by us, and each file a 0600 regular file
// owned by us, or they are refused. A live server holds an exclusive lock
// on NAME.lock for its whole life (the kernel frees it when the process
// dies), which is how a stale file is told from a live one.

import { ConnectError } from "../errors.ts";
import { PROTOCOL_VERSION, SERVER_NAME } from "../protocol.ts";

/** What a discovery file holds. */
export interface DiscoveryRecord {
  name: string;
  transport: "tcp" | "tls" | "unix";
  hostname?: string;
  port?: number;
  path?: string;
  token?: string;
  pid: number;
  protocol: string;
  library: string;
  started: string;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** Refuses a name that could not be a file name of ours. */
export function checkName(name: unknown): string {
  if (typeof name !== "string" || !NAME.test(name)) {
    throw new TypeError(
      `Invalid server name ${
        JSON.stringify(name)
      }: use 1 to 64 letters, digits, '.', '_' or '-', ` +
        "starting with a letter or digit",
    );
  }
  return name;
}

/**
 * Checks, without prompting, every permission finding the directory needs,
 * and names all that are missing in one error (rather than one
 * NotCapable at a time): the environment (XDG_RUNTIME_DIR, else TMPDIR and
 * the uid), then reading (and, to publish, writing) the directory.
 *
 * @throws {Deno.errors.NotCapable} Naming every flag to add.
 */
function checkPermissions(create: boolean): void {
  const granted = (descriptor: Deno.PermissionDescriptor) =>
    Deno.permissions.querySync(descriptor).state === "granted";
  const missing: string[] = [];
  let runtime: string | undefined;
  if (granted({ name: "env", variable: "XDG_RUNTIME_DIR" })) {
    runtime = Deno.env.get("XDG_RUNTIME_DIR") || undefined;
  } else {
    missing.push("--allow-env=XDG_RUNTIME_DIR,TMPDIR");
  }
  // Where it is cannot be known until the environment may be read: then
  // reading (or writing) it is named without being asked about.
  let known = true;
  let dir = "$XDG_RUNTIME_DIR/socketbridge";
  if (runtime !== undefined) dir = `${runtime}/socketbridge`;
  else if (missing.length > 0) known = false;
  else if (missing.length === 0) {
    if (!granted({ name: "env", variable: "TMPDIR" })) {
      missing.push("--allow-env=XDG_RUNTIME_DIR,TMPDIR");
    }
    if (!granted({ name: "sys", kind: "uid" })) missing.push("--allow-sys=uid");
    known = missing.length === 0;
    dir = known
      ? `${Deno.env.get("TMPDIR") || "/tmp"}/socketbridge-${Deno.uid()}`
      : "/tmp/socketbridge-UID";
  }
  // The directory's parent too: it is made there on first use.
  const parent = dir.slice(0, dir.lastIndexOf("/"));
  const place = create ? parent : dir;
  if (!known || !granted({ name: "read", path: place })) missing.push(`--allow-read=${place}`);
  if (create && (!known || !granted({ name: "write", path: place }))) {
    missing.push(`--allow-write=${place}`);
  }
  if (missing.length > 0) {
    throw new Deno.errors.NotCapable(
      `Finding servers by name needs the discovery directory (${dir}): run with ${
        missing.join(" ")
      }`,
    );
  }
}

/** The directory of discovery files, checked (and made) when `create`. */
export function discoveryDir(create: boolean): string {
  checkPermissions(create);
  const runtime = Deno.env.get("XDG_RUNTIME_DIR");
  const dir = runtime !== undefined && runtime !== ""
    ? `${runtime}/socketbridge`
    : `${Deno.env.get("TMPDIR") || "/tmp"}/socketbridge-${Deno.uid()}`;
  let info: Deno.FileInfo;
  try {
    info = Deno.lstatSync(dir);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound) || !create) throw error;
    Deno.mkdirSync(dir, { mode: 0o700 });
    Deno.chmodSync(dir, 0o700);
    info = Deno.lstatSync(dir);
  }
  checkOwned(dir, info, true);
  return dir;
}

/** Refuses a path that is a symlink, of the wrong kind, someone else's, or open to others. */
function checkOwned(path: string, info: Deno.FileInfo, directory: boolean): void {
  const kind = directory ? "directory" : "file";
  if (info.isSymlink) throw new Deno.errors.PermissionDenied(`Refusing ${path}: it is a symlink`);
  if (directory ? !info.isDirectory : !info.isFile) {
    throw new Deno.errors.PermissionDenied(`Refusing ${path}: not a ${kind}`);
  }
  if (info.uid !== null && info.uid !== Deno.uid()) {
    throw new Deno.errors.PermissionDenied(
      `Refusing ${path}: owned by uid ${info.uid}, not by this user (${Deno.uid()})`,
    );
  }
  if (info.mode !== null && (info.mode & 0o077) !== 0) {
    throw new Deno.errors.PermissionDenied(
      `Refusing ${path}: mode ${(info.mode & 0o777).toString(8)} lets others in; expected ${
        directory ? "700" : "600"
      }`,
    );
  }
}

/** Whether a live server holds the name's lock (it may be this process). */
function held(lockPath: string): boolean {
  let lock: Deno.FsFile;
  try {
    lock = Deno.openSync(lockPath, { read: true });
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
  try {
    const free = lock.tryLockSync(false);
    if (free) lock.unlockSync();
    return !free;
  } finally {
    lock.close();
  }
}

/** Reads a discovery file, checked; undefined when there is none. */
export function readDiscovery(
  name: string,
  dir = discoveryDir(false),
): DiscoveryRecord | undefined {
  const path = `${dir}/${checkName(name)}.json`;
  let info: Deno.FileInfo;
  try {
    info = Deno.lstatSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
  checkOwned(path, info, false);
  let record: DiscoveryRecord;
  try {
    record = JSON.parse(Deno.readTextFileSync(path));
  } catch (error) {
    throw new TypeError(`Discovery file ${path} is not JSON`, { cause: error });
  }
  if (
    record === null || typeof record !== "object" || record.name !== name ||
    typeof record.pid !== "number" ||
    !(typeof record.port === "number" || typeof record.path === "string")
  ) {
    throw new TypeError(`Discovery file ${path} does not describe a server`);
  }
  return record;
}

/**
 * Writes this server's discovery file. A file left by a dead process is
 * replaced; one of a live process means the name is taken.
 *
 * @returns Removes the file, if it is still ours.
 * @throws {Deno.errors.AddrInUse} When a live server holds the name.
 */
export function publishDiscovery(
  name: string,
  addr: Deno.Addr,
  tls: boolean,
  token: string | undefined,
): () => void {
  const dir = discoveryDir(true);
  const path = `${dir}/${checkName(name)}.json`;
  const lockPath = `${dir}/${name}.lock`;
  const lock = openLock(lockPath);
  let published: Deno.FileInfo;
  try {
    if (!lock.tryLockSync(true)) {
      const holder = (() => {
        try {
          return readDiscovery(name, dir)?.pid;
        } catch {
          return undefined;
        }
      })();
      throw new Deno.errors.AddrInUse(
        `Cannot serve as "${name}": ${
          holder === undefined ? "another server" : `process ${holder}`
        } already serves under that name (${path})`,
      );
    }
    // A file left by a dead server is simply replaced; a bad one is refused.
    readDiscovery(name, dir);
    const record: DiscoveryRecord = {
      name,
      transport: addr.transport === "unix" ? "unix" : tls ? "tls" : "tcp",
      ...(addr.transport === "unix" ? { path: (addr as Deno.UnixAddr).path } : {
        hostname: reachable((addr as Deno.NetAddr).hostname),
        port: (addr as Deno.NetAddr).port,
      }),
      token,
      pid: Deno.pid,
      protocol: PROTOCOL_VERSION,
      library: SERVER_NAME,
      started: new Date().toISOString(),
    };
    // Written beside, then renamed over: a reader never sees half a file,
    // and the token is never in a file others could read, even for a moment.
    const temporary = `${path}.${Deno.pid}.tmp`;
    Deno.writeTextFileSync(temporary, JSON.stringify(record, null, 2) + "\n", {
      mode: 0o600,
      createNew: true,
    });
    Deno.chmodSync(temporary, 0o600);
    Deno.renameSync(temporary, path);
    published = Deno.lstatSync(path);
  } catch (error) {
    lock.close();
    throw error;
  }
  const locked = lock.statSync();
  return () => {
    // Only files that are still ours: after a cleaner removed them, another
    // server may have taken the name, and its files are not ours to remove.
    removeIfSame(path, published);
    removeIfSame(lockPath, locked);
    lock.close();
  };
}

/**
 * Opens (or creates, owner-only) a lock file without ever following a
 * symlink: an existing path is checked before it is opened, and the file
 * opened must be the one the path names.
 */
function openLock(lockPath: string): Deno.FsFile {
  let lock: Deno.FsFile;
  try {
    // O_CREAT|O_EXCL: fails on any existing path, a dangling symlink included.
    lock = Deno.openSync(lockPath, { read: true, write: true, createNew: true, mode: 0o600 });
  } catch (error) {
    if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
    checkOwned(lockPath, Deno.lstatSync(lockPath), false);
    lock = Deno.openSync(lockPath, { read: true, write: true });
  }
  try {
    if (!sameFile(lock.statSync(), Deno.lstatSync(lockPath))) {
      throw new Deno.errors.PermissionDenied(`Refusing ${lockPath}: it changed while opened`);
    }
    checkOwned(lockPath, Deno.lstatSync(lockPath), false);
  } catch (error) {
    lock.close();
    throw error;
  }
  return lock;
}

function sameFile(a: Deno.FileInfo, b: Deno.FileInfo): boolean {
  return a.ino === b.ino && a.dev === b.dev;
}

function removeIfSame(path: string, ours: Deno.FileInfo): void {
  try {
    if (sameFile(Deno.lstatSync(path), ours)) Deno.removeSync(path);
  } catch {
    // Already gone.
  }
}

/** The address a client dials for a server bound to `hostname`. */
function reachable(hostname: string): string {
  return hostname === "0.0.0.0" ? "127.0.0.1" : hostname === "::" ? "::1" : hostname;
}

/**
 * Where to connect for a named server, and its token.
 *
 * @throws {ConnectError} When no server of that name is known, or its file is stale.
 */
export function resolveName(
  name: string,
): { hostname?: string; port?: number; path?: string; tls?: boolean; token?: string } {
  let record: DiscoveryRecord | undefined;
  try {
    record = readDiscovery(name);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) record = undefined;
    else if (error instanceof Deno.errors.NotCapable) {
      throw new ConnectError(name, `Cannot connect to "${name}": ${error.message}`, {
        cause: error,
      });
    } else throw error;
  }
  if (record === undefined) {
    throw new ConnectError(
      name,
      `Cannot connect to "${name}": no server of that name is running for this user`,
    );
  }
  if (!held(`${discoveryDir(false)}/${name}.lock`)) {
    throw new ConnectError(
      name,
      `Cannot connect to "${name}": its discovery file is stale (process ${record.pid} no longer serves it)`,
    );
  }
  return record.transport === "unix" ? { path: record.path, token: record.token } : {
    hostname: record.hostname,
    port: record.port,
    tls: record.transport === "tls" ? true : undefined,
    token: record.token,
  };
}

/** Every discovery file of this user, with whether a live server holds it. */
export function listDiscovery(): { record: DiscoveryRecord; live: boolean }[] {
  let dir: string;
  try {
    dir = discoveryDir(false);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  }
  const found: { record: DiscoveryRecord; live: boolean }[] = [];
  for (const entry of Deno.readDirSync(dir)) {
    if (!entry.name.endsWith(".json")) continue;
    const name = entry.name.slice(0, -".json".length);
    try {
      const record = readDiscovery(name, dir);
      if (record !== undefined) found.push({ record, live: held(`${dir}/${name}.lock`) });
    } catch {
      // Not a file of ours (wrong mode, not JSON): not listed.
    }
  }
  return found.sort((a, b) => a.record.name.localeCompare(b.record.name));
}
