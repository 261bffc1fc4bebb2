import { InvalidCampaignError, parseCampaign } from '../../src/domain/campaign';
import { CAMPAIGN_TEMPLATES } from '../../src/db/seeds/campaign-templates';
import { assertTemplateCompiles, renderTemplateFields } from '../../src/templates/render-template';
import { REQUIRED_TEMPLATE_FIELDS, type TemplatedChannel } from '../../src/templates/template-fields';

const valid = {
  name: 'Winter sale',
  templateCode: 'marketing_announcement',
  segment: { roles: ['customer'] },
  variables: { headline: 'Sale', message: '20% off' },
};

function errorOf(input: unknown): InvalidCampaignError {
  try {
    parseCampaign(input);
  } catch (err) {
    if (err instanceof InvalidCampaignError) return err;
    throw err;
  }
  throw new Error('expected the campaign to be rejected');
}

describe('parseCampaign', () => {
  it('applies defaults: a new UUID, now as scheduledAt, priority low, template channels', () => {
    const now = new Date('2026-11-25T10:00:00Z');
    const campaign = parseCampaign(valid, () => now);
    expect(campaign).toEqual({
      ...valid,
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      scheduledAt: '2026-11-25T10:00:00.000Z',
      priority: 'low',
      channels: null,
    });
    expect(parseCampaign(valid).id).not.toBe(campaign.id);
  });

  it('keeps a given id (lower-cased) and normalizes scheduledAt to UTC', () => {
    const campaign = parseCampaign({
      ...valid,
      id: 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11',
      scheduledAt: '2026-12-01T09:30:00+05:30',
    });
    expect(campaign.id).toBe('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11');
    expect(campaign.scheduledAt).toBe('2026-12-01T04:00:00.000Z');
  });

  it('names each offending field', () => {
    const err = errorOf({ ...valid, name: ' ', segment: { roles: ['Not A Role'] }, scheduledAt: 'tomorrow' });
    expect(err.fields).toEqual(['name', 'segment.roles.0', 'scheduledAt']);
    expect(err.message).toMatch(
      /^invalid campaign: name: .*; segment\.roles\.0: must be 1-64 chars of \[a-z0-9_-\]; scheduledAt: /,
    );
  });

  it('needs a segment with roles or userIds, and names unknown keys', () => {
    expect(errorOf({ ...valid, segment: {} })).toMatchObject({
      fields: ['segment'],
      message: 'invalid campaign: segment: must name roles or userIds',
    });
    expect(errorOf({ ...valid, segment: { roles: [] } }).fields).toEqual(['segment.roles']);
    expect(errorOf({ ...valid, segment: { tags: ['x'] } }).fields).toEqual(['segment.tags', 'segment']);
    expect(errorOf({ ...valid, audience: 'all' }).fields).toEqual(['audience']);
    expect(errorOf({ ...valid, id: 'camp_1' }).fields).toEqual(['id']);
  });

  it('refuses urgent priority, unknown or repeated channels and oversized variables', () => {
    expect(errorOf({ ...valid, priority: 'urgent' }).message).toBe(
      'invalid campaign: priority: must be low, normal or high (campaigns are never urgent)',
    );
    expect(errorOf({ ...valid, channels: ['fax'] }).fields).toEqual(['channels.0']);
    expect(errorOf({ ...valid, channels: ['email', 'email'] }).fields).toEqual(['channels']);
    expect(errorOf({ ...valid, variables: { ...valid.variables, blob: 'x'.repeat(70_000) } }).fields).toEqual(
      ['variables'],
    );
    expect(parseCampaign({ ...valid, priority: 'high', channels: ['email'] })).toMatchObject({
      priority: 'high',
      channels: ['email'],
    });
  });
});

describe('campaign templates', () => {
  it('are marketing templates that compile, carry their channel fields and render headline and message', () => {
    for (const template of CAMPAIGN_TEMPLATES) {
      expect(template.category).toBe('marketing');
      for (const [channel, fields] of Object.entries(template.channels)) {
        expect(Object.keys(fields)).toEqual(
          expect.arrayContaining(REQUIRED_TEMPLATE_FIELDS[channel as TemplatedChannel]),
        );
        expect(() => assertTemplateCompiles(fields)).not.toThrow();
      }
    }
    const announcement = CAMPAIGN_TEMPLATES.find((t) => t.code === 'marketing_announcement')!;
    expect(Object.keys(announcement.channels).sort()).toEqual(['email', 'in_app']);
    expect(renderTemplateFields(announcement.channels.email!, valid.variables).subject).toBe('Sale');
  });
});
