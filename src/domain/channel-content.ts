/** Rendered content per channel: written by the render step into notifications.content, read by the channel workers. */
export interface ChannelContent {
  in_app: { title: string; body: string; actionUrl?: string; actionText?: string };
  /** `unsubscribeCategory`: a category that needs consent (src/domain/consent.ts); the email goes out with RFC 8058 List-Unsubscribe headers for it. */
  email: { subject: string; html: string; text: string; unsubscribeCategory?: string };
  sms: { text: string };
  push: { title: string; body: string; url?: string };
  webhook: { payload: Record<string, unknown> };
}
