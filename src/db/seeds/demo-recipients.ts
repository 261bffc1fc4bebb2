import type { Orm } from '../orm';
import { Recipient } from '../entities';
import { recordConsents } from '../repositories/consent-repository';

/** A demo recipient; `marketingOptIn`: seeded with a marketing opt-in (source `import`). */
export interface DemoRecipient {
  id: string;
  name: string;
  email: string;
  phone: string | null;
  timezone: string;
  locale: string;
  roles: string[];
  marketingOptIn?: boolean;
}

/**
 * Demo recipients for the dev stack: two shoppers and one admin (receives INVENTORY_LOW_STOCK). Asha
 * (u_42) has opted in to marketing, so campaigns of `npm run dev` reach someone; Ben (u_43) has not,
 * which shows consent at work (docs/consent.md).
 */
export const DEMO_RECIPIENTS: DemoRecipient[] = [
  {
    id: 'u_42',
    name: 'Asha',
    email: 'asha@shop.local',
    phone: '+15005550006',
    timezone: 'Asia/Kolkata',
    locale: 'en',
    roles: ['customer'],
    marketingOptIn: true,
  },
  {
    id: 'u_43',
    name: 'Ben',
    email: 'ben@shop.local',
    phone: null,
    timezone: 'Europe/London',
    locale: 'en',
    roles: ['customer'],
  },
  {
    id: 'u_admin',
    name: 'Ops team',
    email: 'ops@shop.local',
    phone: null,
    timezone: 'UTC',
    locale: 'en',
    roles: ['admin'],
  },
];

/**
 * Inserts the demo recipients that do not exist yet, with their marketing opt-in; never overwrites a
 * recipient or its consent decisions (an existing recipient is left as it is).
 */
export async function seedDemoRecipients(orm: Orm, demos: DemoRecipient[] = DEMO_RECIPIENTS): Promise<void> {
  const em = orm.em.fork();
  const created: DemoRecipient[] = [];
  for (const { marketingOptIn: _, ...demo } of demos) {
    if (await em.findOne(Recipient, { id: demo.id })) continue;
    em.create(Recipient, {
      ...demo,
      muted: false,
      quietHours: null,
      webhookUrl: null,
      createdAt: new Date(),
      updatedAt: new Date(),
    });
    created.push(demos.find((d) => d.id === demo.id)!);
  }
  await em.flush();
  const at = new Date();
  await recordConsents(
    em,
    created
      .filter((demo) => demo.marketingOptIn)
      .map((demo) => ({ recipientId: demo.id, category: 'marketing', granted: true, at, source: 'import' })),
  );
}
