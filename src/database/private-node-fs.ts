import { NodeFS } from '@electric-sql/pglite/nodefs';
import type { PGlite } from '@electric-sql/pglite';

/** What of Emscripten's NODEFS this file touches: the operations that set a file's mode. */
interface EmscriptenNodeFs {
  node_ops: {
    mknod(parent: unknown, name: string, mode: number, dev: number): unknown;
    setattr(node: unknown, attr: { mode?: number }): void;
  };
  stream_ops: { setattr?(stream: unknown, attr: { mode?: number }): void };
}

/** Group and other permissions, never given to a file of the embedded database. */
const NOT_OWNER = 0o077;

/**
 * PGlite's folder on disk, with every file and folder it creates private to the user.
 * Emscripten chmods each file it creates to the mode PostgreSQL asked for (0666 inside
 * PGlite) with chmodSync, which the process umask does not limit; here the group and
 * other bits are taken off every mode it creates or sets, in this database's own file
 * system only.
 */
export class PrivateNodeFS extends NodeFS {
  override async init(pg: PGlite, opts: Parameters<NodeFS['init']>[1]): ReturnType<NodeFS['init']> {
    const { emscriptenOpts } = await super.init(pg, opts);
    const privateModes = (module: { NODEFS: EmscriptenNodeFs }) => {
      const { node_ops: nodeOps, stream_ops: streamOps } = module.NODEFS;
      const mknod = nodeOps.mknod.bind(nodeOps);
      const setattr = nodeOps.setattr.bind(nodeOps);
      nodeOps.mknod = (parent, name, mode, dev) => mknod(parent, name, mode & ~NOT_OWNER, dev);
      nodeOps.setattr = (node, attr) => setattr(node, withoutOthers(attr));
      const streamSetattr = streamOps.setattr?.bind(streamOps);
      if (streamSetattr) streamOps.setattr = (stream, attr) => streamSetattr(stream, withoutOthers(attr));
    };
    return { emscriptenOpts: { ...emscriptenOpts, preRun: [privateModes, ...(emscriptenOpts.preRun ?? [])] } };
  }
}

function withoutOthers<T extends { mode?: number }>(attr: T): T {
  return attr.mode === undefined ? attr : { ...attr, mode: attr.mode & ~NOT_OWNER };
}
