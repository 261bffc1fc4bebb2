/** Rendered content per channel: written by the render step into notifications.content, read by the channel workers. */
export interface ChannelContent {
  in_app: { title: string; body: string; actionUrl?: string; actionText?: string };
  email: { subject: string; html: string; text: string };
  sms: { text: string };
  push: { title: string; body: string; url?: string };
  webhook: { payload: Record<string, unknown> };
}
