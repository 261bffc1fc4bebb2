import { SMTPServer } from 'smtp-server';

export interface ReceivedMail {
  from: string;
  to: string[];
  raw: string;
  receivedAt: Date;
}

/** A real SMTP server on a free port that keeps every message it accepts. */
export class SmtpPeer {
  readonly messages: ReceivedMail[] = [];
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
      onData: (stream, session, callback) => {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          if (this.rejectNext && this.rejectNext.times > 0) {
            this.rejectNext.times--;
            const err = Object.assign(new Error(this.rejectNext.message), { responseCode: this.rejectNext.code });
            return callback(err);
          }
          this.messages.push({
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
            to: session.envelope.rcptTo.map((r) => r.address),
            raw: Buffer.concat(chunks).toString('utf8'),
            receivedAt: new Date(),
          });
          for (const listener of this.listeners) listener();
          callback();
        });
      },
    });
  }

  get url(): string {
    return `smtp://127.0.0.1:${this.port}`;
  }

  async start(): Promise<this> {
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
        reject(new Error(`expected ${count} message(s) to ${address}, got ${this.messagesTo(address).length}`));
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
