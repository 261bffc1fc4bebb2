import type { TemplateSeed } from './default-templates';

/**
 * Version 1 of the marketing templates campaigns use, inserted by the campaigns migration (kept apart
 * from DEFAULT_TEMPLATES, which an earlier migration reads). Variables: `headline`, `message`.
 */
export const CAMPAIGN_TEMPLATES: TemplateSeed[] = [
  {
    code: 'marketing_announcement',
    category: 'marketing',
    locale: 'en',
    channels: {
      in_app: { title: '{{headline}}', body: '{{message}}' },
      email: {
        subject: '{{headline}}',
        html: '<h1>{{headline}}</h1><p>{{message}}</p><p><small>You get this email because marketing emails are on in your notification preferences.</small></p>',
        text: '{{headline}}\n\n{{message}}\n\nYou get this email because marketing emails are on in your notification preferences.',
      },
    },
  },
];
