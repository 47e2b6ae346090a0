// Stand-in for `sharp` in the bundled CLI. @huggingface/transformers requires it at load time for
// image models; Finetune Studio only uses the tokenizers, so any real use is an error.
'use strict';
module.exports = function sharp() {
  throw new Error('image processing (sharp) is not bundled with Finetune Studio');
};
