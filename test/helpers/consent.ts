import { recordConsents } from '../../src/db/repositories/consent-repository';
import type { Recipient } from '../../src/db/entities';
import type { TestStack } from './test-stack';

/** Marketing needs an opt-in (docs/consent.md): campaign tests record one for their recipients, as an import would. */
export async function grantMarketingConsent(stack: TestStack, recipientIds: string[]): Promise<void> {
  const at = new Date();
  const unknown = await recordConsents(
    stack.orm.em.fork(),
    recipientIds.map((recipientId) => ({
      recipientId,
      category: 'marketing',
      granted: true,
      at,
      source: 'import',
    })),
  );
  if (unknown.length) throw new Error(`no such recipients: ${unknown.join(', ')}`);
}

/** stack.createRecipient, opted in to marketing. */
export async function createOptedInRecipient(
  stack: TestStack,
  fields: Parameters<TestStack['createRecipient']>[0],
): Promise<Recipient> {
  const recipient = await stack.createRecipient(fields);
  await grantMarketingConsent(stack, [recipient.id]);
  return recipient;
}
