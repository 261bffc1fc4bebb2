import { LitElement } from 'lit';

/**
 * Renders into the light DOM instead of a shadow root: the dashboard has one stylesheet (admin.css,
 * with uPlot's), which then styles every page and the chart library's own markup alike.
 */
export class LightElement extends LitElement {
  protected override createRenderRoot(): HTMLElement {
    return this;
  }
}
