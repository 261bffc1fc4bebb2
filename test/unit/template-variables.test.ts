import { channelContent } from '../../activities/dispatcher';
import { renderTemplateFields } from '../../src/templates/render-template';
import { templateVariables } from '../../src/templates/template-variables';

describe('templateVariables', () => {
  it("defaults userName to the recipient's name", () => {
    expect(templateVariables({ orderNumber: 'A-1' }, {}, { name: 'Asha' })).toEqual({
      orderNumber: 'A-1',
      userName: 'Asha',
      actionUrl: undefined,
      actionText: undefined,
      shopUrl: '',
      shopName: '',
    });
  });

  it("carries the shop's URL (without a trailing slash) and name", () => {
    const shop = { url: 'https://shop.example/', name: 'Asha & Co' };
    expect(templateVariables({ shopUrl: 'https://evil.example' }, {}, null, shop)).toMatchObject({
      shopUrl: 'https://shop.example',
      shopName: 'Asha & Co',
    });
  });

  it('keeps a userName the data carries', () => {
    expect(templateVariables({ userName: 'Test User' }, {}, { name: 'Asha' }).userName).toBe('Test User');
  });

  it('adds no userName without a recipient name, and blanks count as absent', () => {
    expect(templateVariables({}, {}, { name: null })).not.toHaveProperty('userName');
    expect(templateVariables({}, {}, null)).not.toHaveProperty('userName');
    expect(templateVariables({ userName: null }, {}, { name: '  ' }).userName).toBeNull();
    expect(templateVariables({ userName: '' }, {}, { name: ' Ben ' }).userName).toBe('Ben');
  });

  it('drops an action URL that is not https, http or relative (events accepted before the check, data)', () => {
    expect(templateVariables({ actionUrl: 'javascript:alert(1)' }, {}, null).actionUrl).toBeUndefined();
    expect(templateVariables({}, { actionUrl: ' data:text/html,x' }, null).actionUrl).toBeUndefined();
    expect(templateVariables({}, { actionUrl: '/orders/1' }, null).actionUrl).toBe('/orders/1');
    expect(
      channelContent('push', { title: 'T', body: 'B', actionUrl: '' }, { actionUrl: 'vbscript:x' }),
    ).toEqual({ title: 'T', body: 'B', url: undefined });
  });

  it('takes actionUrl / actionText from the options, else from the data, and always has both keys', () => {
    const vars = templateVariables({ actionUrl: '/data' }, { actionText: 'Open' }, null);
    expect(vars).toMatchObject({ actionUrl: '/data', actionText: 'Open' });
    expect(templateVariables({ actionUrl: '/data' }, { actionUrl: '/option' }, null).actionUrl).toBe(
      '/option',
    );
    expect(Object.keys(templateVariables({}, {}, null))).toEqual([
      'shopUrl',
      'shopName',
      'actionUrl',
      'actionText',
    ]);
  });

  it("renders the plan's in-app title with the recipient name when the data has none", () => {
    const title =
      '{{#if userName}}{{userName}}, your order {{orderNumber}} is placed{{else}}Order {{orderNumber}} placed{{/if}}';
    expect(
      renderTemplateFields({ title }, templateVariables({ orderNumber: 'A-1' }, {}, { name: 'Asha' })).title,
    ).toBe('Asha, your order A-1 is placed');
    expect(
      renderTemplateFields({ title }, templateVariables({ orderNumber: 'A-1' }, {}, { name: null })).title,
    ).toBe('Order A-1 placed');
  });
});
