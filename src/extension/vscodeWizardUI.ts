// WizardUI on VS Code's QuickPick / InputBox, with the Back button in the title bar (the pattern of
// vscode-extension-samples' multi-step input). ignoreFocusOut keeps the wizard open while the user
// looks at the data file or clicks elsewhere.

import * as vscode from 'vscode';
import { BACK, type Back, type InputOptions, type PickOptions, type WizardUI } from './wizardFlow';

interface ValueItem<T> extends vscode.QuickPickItem {
  value: T;
}

export const vscodeWizardUI: WizardUI = {
  pick<T>(options: PickOptions<T>): Promise<T | Back | undefined> {
    const qp = vscode.window.createQuickPick<ValueItem<T>>();
    qp.title = options.title;
    qp.step = options.step;
    qp.totalSteps = options.totalSteps;
    qp.placeholder = options.placeholder;
    qp.ignoreFocusOut = true;
    qp.matchOnDescription = true;
    qp.items = options.items.map((i) => ({ label: i.label, description: i.description, detail: i.detail, value: i.value }));
    const active = qp.items.find((i) => i.value === options.active);
    if (active) qp.activeItems = [active];
    qp.buttons = options.canBack ? [vscode.QuickInputButtons.Back] : [];
    return new Promise((resolve) => {
      let settled = false;
      const done = (value: T | Back | undefined): void => {
        if (settled) return;
        settled = true;
        resolve(value);
        qp.dispose();
      };
      qp.onDidTriggerButton((button) => { if (button === vscode.QuickInputButtons.Back) done(BACK); });
      qp.onDidAccept(() => { const item = qp.selectedItems[0] ?? qp.activeItems[0]; if (item) done(item.value); });
      qp.onDidHide(() => done(undefined));
      qp.show();
    });
  },

  input(options: InputOptions): Promise<string | Back | undefined> {
    const box = vscode.window.createInputBox();
    box.title = options.title;
    box.step = options.step;
    box.totalSteps = options.totalSteps;
    box.prompt = options.prompt;
    box.value = options.value;
    box.placeholder = options.placeholder;
    box.ignoreFocusOut = true;
    box.buttons = options.canBack ? [vscode.QuickInputButtons.Back] : [];
    return new Promise((resolve) => {
      let settled = false;
      const done = (value: string | Back | undefined): void => {
        if (settled) return;
        settled = true;
        resolve(value);
        box.dispose();
      };
      box.onDidChangeValue((v) => (box.validationMessage = options.validate(v)));
      box.onDidTriggerButton((button) => { if (button === vscode.QuickInputButtons.Back) done(BACK); });
      box.onDidAccept(() => {
        const error = options.validate(box.value);
        box.validationMessage = error;
        if (!error) done(box.value);
      });
      box.onDidHide(() => done(undefined));
      box.show();
    });
  },
};
