/** `abort`: fails the transaction where it stands; everything before it is rolled back. */
import { registerAction } from '../registry.js';
import { transactionErrors } from '../errors.js';

registerAction({
  name: 'abort',
  create: () => ({
    prepare: async () => {
      throw transactionErrors.aborted();
    },
    commit: () => {},
    abort: () => {},
    clean: () => {},
  }),
});
