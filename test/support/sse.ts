import { request, type ClientRequest, type IncomingMessage } from 'node:http';

/** One Server-Sent Event as the WHATWG parsing rules give it; comments are kept apart. */
export interface SseEvent {
  id?: string;
  event: string;
  data: string;
}

/**
 * Parses a Server-Sent Events text stream, fed in chunks of any size: fields per line
 * (`field: value`, one leading space dropped), events dispatched at a blank line,
 * `data` lines joined by newlines (an event without data is not dispatched), a line
 * starting with `:` a comment.
 */
export class SseParser {
  private pending = '';
  private current: { id?: string; event?: string; data: string[] } = { data: [] };
  /** The last `id` field seen (an EventSource's last event id), and the last `retry`. */
  lastEventId = '';
  retry: number | undefined;
  readonly events: SseEvent[] = [];
  readonly comments: string[] = [];

  feed(chunk: string): void {
    this.pending += chunk;
    let newline: number;
    while ((newline = this.pending.search(/\r\n|\r|\n/)) >= 0) {
      const line = this.pending.slice(0, newline);
      const width = this.pending.startsWith('\r\n', newline) ? 2 : 1;
      this.pending = this.pending.slice(newline + width);
      this.line(line);
    }
  }

  private line(line: string): void {
    if (line === '') {
      const { id, event, data } = this.current;
      // As an EventSource: an event without data is not dispatched.
      if (data.length > 0)
        this.events.push({ ...(id !== undefined ? { id } : {}), event: event ?? 'message', data: data.join('\n') });
      this.current = { data: [] };
      return;
    }
    if (line.startsWith(':')) {
      this.comments.push(line.slice(1).trim());
      return;
    }
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') this.current.data.push(value);
    else if (field === 'event') this.current.event = value;
    else if (field === 'id' && !value.includes('\0')) this.current.id = this.lastEventId = value;
    else if (field === 'retry' && /^\d+$/.test(value)) this.retry = Number(value);
  }
}

/** An open GET of an event stream: everything received so far, raw and parsed, and ways to wait for more. */
export class SseStream {
  readonly parser = new SseParser();
  raw = '';
  ended = false;
  private waiters: (() => void)[] = [];

  private constructor(
    readonly req: ClientRequest,
    readonly res: IncomingMessage,
  ) {
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      this.raw += chunk;
      this.parser.feed(chunk);
      this.wake();
    });
    const ended = () => {
      this.ended = true;
      this.wake();
    };
    res.on('end', ended);
    res.on('close', ended);
    res.on('error', ended);
  }

  /** Opens the stream; resolves once the response head has arrived (whatever its status). */
  static open(url: string, headers: Record<string, string> = {}): Promise<SseStream> {
    return new Promise((resolve, reject) => {
      const req = request(url, { headers: { accept: 'text/event-stream', ...headers } }, (res) =>
        resolve(new SseStream(req, res)),
      );
      req.on('error', reject);
      req.end();
    });
  }

  get status(): number {
    return this.res.statusCode ?? 0;
  }

  get events(): SseEvent[] {
    return this.parser.events;
  }

  /** The stream's events of this type, in order (the body of a non-200 answer has none). */
  named(event: string): SseEvent[] {
    return this.events.filter((e) => e.event === event);
  }

  /** Waits until `condition` holds (checked at every chunk), failing after `timeoutMs`. */
  async until(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
      const left = deadline - Date.now();
      if (left <= 0 || (this.ended && !condition()))
        throw new Error(`${this.ended ? 'stream ended' : 'timed out'} waiting for ${what}; received:\n${this.raw}`);
      await new Promise<void>((wake) => {
        const timer = setTimeout(wake, Math.min(left, 250));
        this.waiters.push(() => {
          clearTimeout(timer);
          wake();
        });
      });
    }
  }

  /** Waits for the first event after the first `after` events that `match` accepts. */
  async next(match: (e: SseEvent) => boolean, what: string, after = 0, timeoutMs = 5000): Promise<SseEvent> {
    let found: SseEvent | undefined;
    await this.until(() => (found = this.events.slice(after).find(match)) !== undefined, what, timeoutMs);
    return found!;
  }

  /** Waits for the end of the stream (the server closed it). */
  async closedByServer(timeoutMs = 5000): Promise<void> {
    await this.until(() => this.ended, 'the end of the stream', timeoutMs);
  }

  close(): void {
    this.req.destroy();
    this.res.destroy();
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}
