import { renderTemplateFields, TemplateVariableMissingError } from '../../src/templates/render-template';

describe('renderTemplateFields', () => {
  it('escapes HTML in html fields only', () => {
    const out = renderTemplateFields(
      { html: '<p>{{name}}</p>', text: 'Hi {{name}}' },
      { name: '<b>Ann & Co</b>' },
    );
    expect(out.html).toBe('<p>&lt;b&gt;Ann &amp; Co&lt;/b&gt;</p>');
    expect(out.text).toBe('Hi <b>Ann & Co</b>');
  });

  it('names the missing variable and field instead of rendering undefined', () => {
    expect(() => renderTemplateFields({ subject: 'Order {{orderNumber}}' }, {})).toThrow(
      TemplateVariableMissingError,
    );
    expect(() => renderTemplateFields({ subject: 'Order {{orderNumber}}' }, {})).toThrow(
      /"subject".*"orderNumber"/,
    );
  });

  it('renders nested variables', () => {
    expect(renderTemplateFields({ text: '{{order.number}}' }, { order: { number: 'A-1' } }).text).toBe('A-1');
  });
});
