import { SMTPServer } from 'smtp-server';

export interface ReceivedMail {
  from: string;
  to: string[];
  raw: string;
  receivedAt: Date;
}

/** The reply to one DATA held back: SMTP accepts a message only with that reply. */
export interface HeldMail {
  /** Resolves when the held message's data has arrived. */
  arrived: Promise<ReceivedMail>;
  /** Accepts the message now, unless its sender hung up meanwhile (then it was never accepted). */
  release(): void;
}

/** A real SMTP server on a free port that keeps every message it accepts. */
export class SmtpPeer {
  readonly messages: ReceivedMail[] = [];
  /** Every message whose data arrived, accepted or not (a sender killed before the reply leaves one here only). */
  readonly transmissions: ReceivedMail[] = [];
  private readonly holds: {
    mail?: ReceivedMail;
    arrived: (mail: ReceivedMail) => void;
    accept?: () => void;
    released: boolean;
  }[] = [];
  private readonly closedSessions = new Set<string>();
  private readonly server: SMTPServer;
  private listeners: (() => void)[] = [];
  /** Set to reply with an SMTP error code to the next DATA commands. */
  rejectNext: { code: number; message: string; times: number } | null = null;
  port = 0;

  constructor() {
    this.server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      onClose: (session) => {
        this.closedSessions.add(session.id);
      },
      onData: (stream, session, callback) => {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          if (this.rejectNext && this.rejectNext.times > 0) {
            this.rejectNext.times--;
            const err = Object.assign(new Error(this.rejectNext.message), {
              responseCode: this.rejectNext.code,
            });
            return callback(err);
          }
          const mail: ReceivedMail = {
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
            to: session.envelope.rcptTo.map((r) => r.address),
            raw: Buffer.concat(chunks).toString('utf8'),
            receivedAt: new Date(),
          };
          this.transmissions.push(mail);
          const accept = () => {
            if (this.closedSessions.has(session.id)) return; // the sender is gone: no reply, no message
            this.messages.push(mail);
            for (const listener of this.listeners) listener();
            callback();
          };
          const hold = this.holds.find((h) => !h.mail);
          if (!hold) return accept();
          hold.mail = mail;
          hold.accept = accept;
          hold.arrived(mail);
          if (hold.released) accept();
        });
      },
    });
  }

  /** Holds the reply to the next DATA until release() (a send in flight, for kill and shutdown tests). */
  holdNext(): HeldMail {
    let arrived!: (mail: ReceivedMail) => void;
    const arrival = new Promise<ReceivedMail>((resolve) => (arrived = resolve));
    const hold: (typeof this.holds)[number] = { arrived, released: false };
    this.holds.push(hold);
    return {
      arrived: arrival,
      release: () => {
        hold.released = true;
        hold.accept?.();
      },
    };
  }

  get url(): string {
    return `smtp://127.0.0.1:${this.port}`;
  }

  async start(): Promise<this> {
    // A sender killed mid-session resets its socket: that is an event of the test, not a crash of the peer.
    this.server.on('error', () => undefined);
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.server.address() as { port: number }).port;
    return this;
  }

  messagesTo(address: string): ReceivedMail[] {
    return this.messages.filter((m) => m.to.includes(address));
  }

  /** Resolves once `count` messages reached `address`, or rejects after timeoutMs. */
  waitForMessages(address: string, count = 1, timeoutMs = 20_000): Promise<ReceivedMail[]> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = this.messagesTo(address);
        if (found.length >= count) {
          cleanup();
          resolve(found);
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(
          new Error(`expected ${count} message(s) to ${address}, got ${this.messagesTo(address).length}`),
        );
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.listeners = this.listeners.filter((l) => l !== check);
      };
      this.listeners.push(check);
      check();
    });
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
