// Getting a model file through a cache: read the stored copy (no request at all), or revalidate it
// (If-None-Match), or download it, streaming the bytes to the consumer (the WASM loader) and into the
// store at once, resuming a partial download with a Range request checked against its validator
// (If-Range). Every copy is verified by the file's own per-tensor CRCs as it is read; a damaged copy is
// dropped and fetched again. Storage problems (a full quota, say) are warnings: the model still loads.
import { BimambaError, badFormat } from '../errors.js';
import type { BimambaHeader } from '../format/bimamba.js';
import type { ModelSource } from '../format/byte-reader.js';
import { CHECKSUMS_KEY } from '../format/checksums.js';
import { crc32, crcHex } from '../format/crc32.js';
import type { EntryInfo, EntryWriter, PartialEntry, Store } from './store.js';

export type Origin = 'network' | 'cache';

/**
 * What reads the file: `check` must be called with its header before the data is read (it throws for a
 * file that is not the one expected), and the data must be verified against its checksums.
 */
export type Consume<T> = (source: ModelSource, check: (header: BimambaHeader) => void, origin: Origin) => Promise<T>;

export interface DeliveryOptions {
  store: Store;
  /** Ask the server whether a stored copy is current before reading it. */
  revalidate: boolean;
  /** Problems that do not stop the load (a damaged copy refetched, no room to store, offline). */
  warn: (warning: BimambaError) => void;
  /** The name the entry gets (`bimamba pull --name`). */
  name?: string | null;
  /** A download that receives nothing for this long stops (what arrived stays, to resume); default 60 s. */
  stallMs?: number;
}

const STALL_MS = 60_000;

/** Identifies a file's content: the CRC of its checksums entry (which covers every tensor and the metadata), and its size. */
export function fingerprintOf(header: BimambaHeader, where: string): string {
  const checksums = header.metadata[CHECKSUMS_KEY];
  if (checksums === undefined) {
    throw new BimambaError('UNSUPPORTED', `${where} has no checksums (it was converted by an older version), so a cached copy could not be verified: convert it again, or load it without \`cache\``);
  }
  return `${crcHex(crc32(new TextEncoder().encode(checksums)))}-${header.dataStart + header.dataBytes}`;
}

/** A stored copy must be the file that was stored: the same content fingerprint, the same size. */
function checkStored(header: BimambaHeader, info: EntryInfo, where: string): void {
  if (fingerprintOf(header, where) !== info.fingerprint || header.dataStart + header.dataBytes !== info.totalBytes) {
    throw badFormat(where, 'the cached copy is not the file that was stored for this URL (another model\'s file?)');
  }
}

const messageOf = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** A storage failure as the warning to give: QUOTA for a full disk or origin quota. */
function storageWarning(e: unknown, url: string): BimambaError {
  const name = (e as { name?: string })?.name;
  const code = (e as { code?: string })?.code;
  if (name === 'QuotaExceededError' || code === 'ENOSPC' || code === 'EDQUOT' || code === 'QUOTA') {
    return new BimambaError('QUOTA', `no room to cache ${url} (${messageOf(e)}): the model loads from the network without a cached copy`, { cause: e });
  }
  return new BimambaError(e instanceof BimambaError ? e.code : 'UNSUPPORTED', `caching ${url} failed (${messageOf(e)}): the model loads without a cached copy`, { cause: e });
}

async function request(url: URL, headers: Record<string, string>): Promise<Response> {
  try {
    return await fetch(url, { headers, cache: 'no-store' });
  } catch (e) {
    const cause = e instanceof Error && e.cause instanceof Error ? ` (${e.cause.message})` : '';
    throw new BimambaError('BAD_ARGUMENT', `cannot fetch ${url.href}: ${messageOf(e)}${cause}`, { cause: e });
  }
}

const discard = (r: Response) => r.body?.cancel().catch(() => {});

/** An ETag If-Range may carry: a strong one (a weak W/"..." never matches a range). */
const strongEtag = (etag: string | null) => (etag && !etag.startsWith('W/') ? etag : null);

/** The body's length in bytes when the response says it (null for a compressed or unsized body). */
function bodyLength(r: Response): number | null {
  const encoding = r.headers.get('content-encoding');
  const text = r.headers.get('content-length');
  if ((encoding && encoding !== 'identity') || text === null) return null;
  if (!/^\d{1,15}$/.test(text.trim())) throw badFormat(r.url || 'the response', `the server sent a Content-Length that is not a number: ${JSON.stringify(text)}`);
  return Number(text);
}

/** Why a 206 answer cannot continue `partial` (null when it can). */
function resumeProblem(r: Response, partial: PartialEntry): string | null {
  const range = /^bytes (\d{1,15})-(\d{1,15})\/(\d{1,15})$/.exec(r.headers.get('content-range')?.trim() ?? '');
  if (!range) return `its Content-Range is ${JSON.stringify(r.headers.get('content-range'))}`;
  const [start, end, total] = [Number(range[1]), Number(range[2]), Number(range[3])];
  if (start !== partial.bytes || end !== total - 1 || total !== partial.info.totalBytes) {
    return `its Content-Range says bytes ${start}-${end} of ${total}, not ${partial.bytes}-${partial.info.totalBytes - 1} of ${partial.info.totalBytes}`;
  }
  const etag = r.headers.get('etag');
  if (etag !== null && partial.info.etag !== null && etag !== partial.info.etag) return `its ETag changed from ${partial.info.etag} to ${etag}`;
  const length = bodyLength(r);
  if (length !== null && length !== end - start + 1) return `its Content-Length is ${length}, not the ${end - start + 1} bytes of its range`;
  return null;
}

/** The next chunk of a body, or an error when none comes within `ms` (a server that stalls must not hold the load, and the lock, forever). */
async function readWithin(body: ReadableStreamDefaultReader<Uint8Array>, ms: number, url: string): Promise<ReadableStreamReadResult<Uint8Array>> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const stalled = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new BimambaError('BAD_ARGUMENT', `${url}: no data arrived for ${ms / 1000} s: the download stopped (it resumes on the next load)`)), ms);
  });
  try {
    return await Promise.race([body.read(), stalled]);
  } catch (e) {
    body.cancel().catch(() => {});
    throw e;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Read `url` through `options.store`; see the top of this file. A stored copy is read without the lock
 * (readers of one copy do not wait for each other); a download holds it, so that two tabs or processes
 * loading one URL at once download it once: the second finds the first's copy.
 */
export async function deliver<T>(url: URL, options: DeliveryOptions, consume: Consume<T>): Promise<T> {
  const href = url.href;
  const { store, warn } = options;
  /** The stored copy, read (or, revalidated, replaced by the server's new file); null when there is none to read. */
  const fromStore = async (): Promise<{ value: T } | null> => {
    const entry = await store.get(href).catch((e) => {
      warn(new BimambaError('BAD_FORMAT', `the cached copy of ${href} cannot be read (${messageOf(e)}): it is fetched again`, { cause: e }));
      return null;
    });
    if (!entry) return null;
    if (options.revalidate) {
      const fresh = await revalidate(url, entry.info, warn);
      if (fresh) return { value: await download(url, options, consume, fresh, null) };
    }
    try {
      return { value: await consume(entry.source, (h) => checkStored(h, entry.info, href), 'cache') };
    } catch (e) {
      // a damaged, truncated or swapped copy (or one that can no longer be read): drop it, fetch again
      if (!(e instanceof BimambaError && (e.code === 'BAD_FORMAT' || e.code === 'BAD_ARGUMENT'))) throw e;
      warn(new BimambaError('BAD_FORMAT', `the cached copy of ${href} was dropped and is fetched again: ${e.message}`, { cause: e }));
      await store.delete(href).catch(() => false);
      return null;
    }
  };
  if (!options.revalidate) {
    const hit = await fromStore();
    if (hit) return hit.value;
  }
  return store.exclusive(href, async () => {
    const hit = await fromStore(); // another tab or process may have stored it while this one waited
    if (hit) return hit.value;
    return download(url, options, consume, null, await store.partial(href).catch(() => null));
  });
}

/** The server's answer to a conditional request: a new 200 response, or null to read the stored copy. */
async function revalidate(url: URL, info: EntryInfo, warn: (w: BimambaError) => void): Promise<Response | null> {
  const headers: Record<string, string> = {};
  if (info.etag) headers['if-none-match'] = info.etag;
  else if (info.lastModified) headers['if-modified-since'] = info.lastModified;
  let r: Response;
  try {
    r = await request(url, headers);
  } catch (e) {
    warn(new BimambaError('BAD_ARGUMENT', `${messageOf(e)}: loading the cached copy`, { cause: e }));
    return null;
  }
  if (r.status === 200 && r.body) return r;
  discard(r);
  if (r.status !== 304) warn(new BimambaError('BAD_ARGUMENT', `revalidating ${url.href} got HTTP ${r.status}: loading the cached copy`));
  return null;
}

async function download<T>(url: URL, options: DeliveryOptions, consume: Consume<T>, response: Response | null, partial: PartialEntry | null): Promise<T> {
  const href = url.href;
  const { store, warn } = options;
  let resumeFrom = 0;
  if (!response) {
    const validator = partial && (strongEtag(partial.info.etag) ?? partial.info.lastModified);
    response = await request(url, partial && validator ? { range: `bytes=${partial.bytes}-`, 'if-range': validator } : {});
    if (response.status === 206) {
      const problem = partial && validator ? resumeProblem(response, partial) : 'the server sent part of the file unasked';
      if (problem) {
        warn(new BimambaError('BAD_FORMAT', `${href}: the server's answer to a Range request cannot continue the stored part (${problem}); downloading it whole`));
        discard(response);
        await store.delete(href).catch(() => false);
        partial = null;
        response = await request(url, {});
      } else {
        resumeFrom = partial!.bytes;
      }
    }
  }
  if (!(response.status === 200 || (response.status === 206 && resumeFrom > 0))) {
    discard(response);
    throw new BimambaError('BAD_ARGUMENT', `fetching ${href} failed: HTTP ${response.status}`);
  }
  if (!response.body) throw badFormat(href, 'the response has no body');
  const resumed = resumeFrom > 0 ? partial : null;
  const expectedTotal = resumed ? resumed.info.totalBytes : bodyLength(response);
  const etag = response.headers.get('etag') ?? resumed?.info.etag ?? null;
  const lastModified = response.headers.get('last-modified') ?? resumed?.info.lastModified ?? null;

  let writer: EntryWriter | null = null;
  let writerOpening: Promise<void> | null = null;
  let storing = true; // false once storing is given up (no room, a write failed)
  let written = resumeFrom;
  let fileBytes = -1;
  let resumedOtherFile = false;
  const held: Uint8Array[] = []; // bytes that arrived before the header was checked and the writer opened

  const write = async (chunk: Uint8Array) => {
    if (!writer) return;
    try {
      await writer.write(chunk);
      written += chunk.length;
    } catch (e) {
      warn(storageWarning(e, href));
      storing = false;
      const w = writer;
      writer = null;
      await w.abort(false).catch(() => {});
    }
  };
  const flush = async () => {
    if (writerOpening) await writerOpening;
    while (held.length > 0 && writer) await write(held.shift()!);
    held.length = 0;
  };

  const check = (header: BimambaHeader) => {
    const fingerprint = fingerprintOf(header, href);
    fileBytes = header.dataStart + header.dataBytes;
    if (resumed && resumed.info.fingerprint !== fingerprint) {
      resumedOtherFile = true;
      throw badFormat(href, 'the stored part of the download belongs to another file');
    }
    if (expectedTotal !== null && expectedTotal !== fileBytes) {
      throw badFormat(href, `the server says the file has ${expectedTotal} bytes, but its header says ${fileBytes}`);
    }
    const info: EntryInfo = { url: href, totalBytes: fileBytes, etag, lastModified, storedAt: Date.now(), fingerprint, name: options.name ?? resumed?.info.name ?? null };
    writerOpening = (async () => {
      const left = store.available ? await store.available() : null;
      if (left !== null && left < fileBytes - resumeFrom) {
        storing = false;
        warn(new BimambaError('QUOTA', `no room to cache ${href}: it needs ${fileBytes - resumeFrom} bytes, the storage has ${left} left: the model loads from the network without a cached copy`));
        return;
      }
      try {
        writer = await store.open(info, resumeFrom);
      } catch (e) {
        storing = false;
        warn(storageWarning(e, href));
      }
    })();
  };

  const body = response.body.getReader();
  let prefix = resumed ? resumed.stream().getReader() : null;
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (prefix) {
        const r = await prefix.read();
        if (!r.done) return controller.enqueue(r.value);
        prefix = null;
      }
      const r = await readWithin(body, options.stallMs ?? STALL_MS, href);
      if (r.done) return controller.close();
      if (storing) {
        held.push(r.value);
        if (writerOpening) await flush();
      }
      controller.enqueue(r.value);
    },
    async cancel(reason) {
      await body.cancel(reason).catch(() => {});
      await prefix?.cancel(reason).catch(() => {});
    },
  });

  let result: T;
  try {
    result = await consume(stream, check, 'network');
  } catch (e) {
    // a download cut short stays as a partial one (resumed next time); a wrong file does not
    const wrongFile = e instanceof BimambaError && e.code === 'BAD_FORMAT' && !/truncated/.test(e.message);
    await writerOpening;
    if (!wrongFile) await flush();
    const w = writer as EntryWriter | null;
    if (w) await w.abort(!wrongFile).catch(() => {});
    if (resumedOtherFile || (resumed && wrongFile)) {
      // the stored part was another file's, or damaged (the whole failed its checksums): start again, once
      warn(new BimambaError('BAD_FORMAT', `${href}: the stored part of the download does not continue into this file (${messageOf(e)}): downloading it whole`, { cause: e }));
      await store.delete(href).catch(() => false);
      return download(url, options, consume, null, null);
    }
    throw e;
  }
  await flush();
  const w = writer as EntryWriter | null;
  if (w) {
    if (written !== fileBytes) {
      warn(new BimambaError('BAD_FORMAT', `${href}: the server sent ${written} bytes for a file of ${fileBytes}: not cached`));
      await w.abort(false).catch(() => {});
    } else {
      try {
        await w.commit();
      } catch (e) {
        warn(storageWarning(e, href));
        await w.abort(false).catch(() => {});
      }
    }
  }
  return result;
}
