// Test-only extension (see package.json). Reads .probe/input.json, writes .probe/<command>.json.
const vscode = require('vscode');
const fs = require('fs');
const path = require('path');

function probeDir() {
  return path.join(vscode.workspace.workspaceFolders[0].uri.fsPath, '.probe');
}
function input() {
  return JSON.parse(fs.readFileSync(path.join(probeDir(), 'input.json'), 'utf8'));
}
function write(name, value) {
  fs.mkdirSync(probeDir(), { recursive: true });
  fs.writeFileSync(path.join(probeDir(), `${name}.json.tmp`), JSON.stringify(value, null, 2));
  fs.renameSync(path.join(probeDir(), `${name}.json.tmp`), path.join(probeDir(), `${name}.json`));
}
function guarded(name, fn) {
  return async () => {
    try {
      write(name, await fn());
    } catch (error) {
      write(name, { error: String(error && error.stack || error) });
    }
  };
}

async function pickModel(wanted) {
  const models = await vscode.lm.selectChatModels({ vendor: 'finetune-studio' });
  const model = models.find((m) => m.name === wanted);
  if (!model) throw new Error(`no chat model "${wanted}" among ${JSON.stringify(models.map((m) => m.name))}`);
  return { model, names: models.map((m) => m.name) };
}

function activate(context) {
  context.subscriptions.push(
    vscode.commands.registerCommand('ftuneProbe.chat', guarded('chat', async () => {
      const { model: wanted, messages, max_tokens } = input();
      const { model, names } = await pickModel(wanted);
      const chat = messages.map((m) => (m.role === 'assistant' ? vscode.LanguageModelChatMessage.Assistant(m.content) : vscode.LanguageModelChatMessage.User(m.content)));
      const response = await model.sendRequest(chat, { modelOptions: { max_tokens } }, new vscode.CancellationTokenSource().token);
      let text = '';
      let chunks = 0;
      for await (const piece of response.text) {
        text += piece;
        chunks += 1;
      }
      const tokens = await model.countTokens(messages[messages.length - 1].content);
      return { names, text, chunks, tokens, maxInputTokens: model.maxInputTokens, maxOutputTokens: model.maxOutputTokens, family: model.family, version: model.version };
    })),
    vscode.commands.registerCommand('ftuneProbe.chatCancel', guarded('chatCancel', async () => {
      const { model: wanted, messages } = input();
      const { model } = await pickModel(wanted);
      const source = new vscode.CancellationTokenSource();
      const started = Date.now();
      const response = await model.sendRequest(messages.map((m) => vscode.LanguageModelChatMessage.User(m.content)), { modelOptions: { max_tokens: 400 } }, source.token);
      let chunks = 0;
      let error;
      try {
        for await (const _piece of response.text) {
          chunks += 1;
          if (chunks === 3) source.cancel();
        }
      } catch (e) {
        error = String(e);
      }
      const endedAfterMs = Date.now() - started;
      // the server is free again at once: a short request right after completes
      const again = await model.sendRequest([vscode.LanguageModelChatMessage.User('Hi')], { modelOptions: { max_tokens: 2 } }, new vscode.CancellationTokenSource().token);
      let second = '';
      for await (const piece of again.text) second += piece;
      return { chunks, endedAfterMs, error, second };
    })),
    vscode.commands.registerCommand('ftuneProbe.statusTool', guarded('statusTool', async () => {
      const { run } = input();
      const names = vscode.lm.tools.map((t) => t.name);
      const result = await vscode.lm.invokeTool('finetuneStudio_runStatus', { input: { run }, toolInvocationToken: undefined }, new vscode.CancellationTokenSource().token);
      const text = result.content.map((p) => (p instanceof vscode.LanguageModelTextPart ? p.value : '')).join('');
      return { tools: names, status: JSON.parse(text) };
    })),
    vscode.commands.registerCommand('ftuneProbe.openPrompt', guarded('openPrompt', async () => {
      const { file } = input();
      const editor = await vscode.window.showTextDocument(vscode.Uri.file(file));
      editor.selection = new vscode.Selection(0, 0, editor.document.lineCount, 0);
      return { opened: file, selected: editor.document.getText(editor.selection) };
    })),
    vscode.commands.registerCommand('ftuneProbe.dumpAnswers', guarded('answers', async () => {
      const docs = vscode.workspace.textDocuments.filter((d) => d.uri.scheme === 'finetune-answers');
      return { documents: docs.map((d) => ({ uri: d.uri.toString(), readOnly: true, text: d.getText() })) };
    })),
  );
}

module.exports = { activate };
