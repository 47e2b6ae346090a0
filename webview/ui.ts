// The ONLY module that knows about @vscode/webview-ui-toolkit. The toolkit is deprecated upstream, so
// the panels build their controls through these helpers: replacing the toolkit later means rewriting
// this file (e.g. with native elements styled by VS Code's CSS variables) and nothing else.
//
import {
  provideVSCodeDesignSystem,
  vsCodeBadge,
  vsCodeButton,
  vsCodeCheckbox,
  vsCodeDivider,
  vsCodeDropdown,
  vsCodeOption,
  vsCodeProgressRing,
  vsCodeTextArea,
  vsCodeTextField,
} from '@vscode/webview-ui-toolkit';

let registered = false;

/** Registers the toolkit's custom elements (once; elements created earlier upgrade then). */
export function initUi(): void {
  if (registered) return;
  registered = true;
  provideVSCodeDesignSystem().register(
    vsCodeButton(),
    vsCodeCheckbox(),
    vsCodeDropdown(),
    vsCodeOption(),
    vsCodeTextField(),
    vsCodeTextArea(),
    vsCodeProgressRing(),
    vsCodeBadge(),
    vsCodeDivider(),
  );
}

/** A form control with a string value (toolkit text field, text area, dropdown). */
export type ValueElement = HTMLElement & { value: string; disabled: boolean };
export type CheckElement = HTMLElement & { checked: boolean; disabled: boolean };
export type ButtonElement = HTMLElement & { disabled: boolean };

export interface Choice {
  value: string;
  label: string;
}

function create<T extends HTMLElement>(tag: string, attributes: Record<string, string | undefined> = {}): T {
  const element = document.createElement(tag) as T;
  for (const [name, value] of Object.entries(attributes)) if (value !== undefined) element.setAttribute(name, value);
  return element;
}

export function button(
  label: string,
  onClick: () => void,
  options: { appearance?: 'primary' | 'secondary' | 'icon'; title?: string; id?: string } = {},
): ButtonElement {
  const element = create<ButtonElement>('vscode-button', {
    appearance: options.appearance,
    title: options.title,
    'aria-label': options.title ?? label,
    id: options.id,
  });
  element.textContent = label;
  element.addEventListener('click', () => {
    if (!element.disabled) onClick();
  });
  return element;
}

export function checkbox(label: string, checked: boolean, onChange: (checked: boolean) => void, id?: string): CheckElement {
  const element = create<CheckElement>('vscode-checkbox', { id });
  element.textContent = label;
  element.checked = checked;
  if (checked) element.setAttribute('checked', '');
  element.addEventListener('change', () => onChange(element.checked));
  return element;
}

export interface Dropdown {
  element: ValueElement;
  /** replaces the choices, keeping `value` selected when it is one of them (else the first). */
  setChoices(choices: readonly Choice[], value: string): void;
  readonly value: string;
}

export function dropdown(choices: readonly Choice[], value: string, onChange: (value: string) => void, id?: string): Dropdown {
  const element = create<ValueElement>('vscode-dropdown', { id });
  let current = value;
  const setChoices = (next: readonly Choice[], selected: string): void => {
    element.replaceChildren(
      ...next.map((choice) => {
        const option = create<HTMLElement>('vscode-option', { value: choice.value, title: choice.value });
        option.textContent = choice.label;
        return option;
      }),
    );
    current = next.some((c) => c.value === selected) ? selected : (next[0]?.value ?? '');
    // the toolkit picks its selected option when the options settle; set the value after that
    queueMicrotask(() => {
      element.value = current;
    });
  };
  setChoices(choices, value);
  element.addEventListener('change', () => {
    current = element.value;
    onChange(current);
  });
  return {
    element,
    setChoices,
    get value() {
      return current;
    },
  };
}

export function textField(
  value: string,
  onInput: (value: string) => void,
  options: { label?: string; placeholder?: string; size?: number; id?: string; type?: string } = {},
): ValueElement {
  const element = create<ValueElement>('vscode-text-field', {
    placeholder: options.placeholder,
    size: options.size?.toString(),
    id: options.id,
    type: options.type,
  });
  if (options.label) element.textContent = options.label;
  element.value = value;
  element.addEventListener('input', () => onInput(element.value));
  return element;
}

export function textArea(
  value: string,
  onInput: (value: string) => void,
  options: { label?: string; placeholder?: string; rows?: number; id?: string } = {},
): ValueElement {
  const element = create<ValueElement>('vscode-text-area', {
    placeholder: options.placeholder,
    rows: options.rows?.toString(),
    resize: 'vertical',
    id: options.id,
  });
  if (options.label) element.textContent = options.label;
  element.value = value;
  element.addEventListener('input', () => onInput(element.value));
  return element;
}

export function progressRing(): HTMLElement {
  return create<HTMLElement>('vscode-progress-ring');
}

export function badge(text: string): HTMLElement {
  const element = create<HTMLElement>('vscode-badge');
  element.textContent = text;
  return element;
}

export function divider(): HTMLElement {
  return create<HTMLElement>('vscode-divider', { role: 'separator' });
}
