import type { Orm } from '../orm';
import { Recipient } from '../entities';

/** Demo recipients for the dev stack: two shoppers and one admin (receives INVENTORY_LOW_STOCK). */
export const DEMO_RECIPIENTS = [
  {
    id: 'u_42',
    name: 'Asha',
    email: 'asha@shop.local',
    phone: '+15005550006',
    timezone: 'Asia/Kolkata',
    locale: 'en',
    roles: ['customer'],
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

/** Inserts the demo recipients that do not exist yet; never overwrites. */
export async function seedDemoRecipients(orm: Orm): Promise<void> {
  const em = orm.em.fork();
  for (const demo of DEMO_RECIPIENTS) {
    if (await em.findOne(Recipient, { id: demo.id })) continue;
    em.create(Recipient, {
      ...demo,
      muted: false,
      quietHours: null,
      webhookUrl: null,
      createdAt: new Date(),
      updatedAt: new Date(),
    });
  }
  await em.flush();
}
