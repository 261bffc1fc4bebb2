/** Registers a custom element unless the page already has one of that name (the widget loaded twice). */
export function defineElement(name: string, element: CustomElementConstructor): void {
  if (!customElements.get(name)) customElements.define(name, element);
}
