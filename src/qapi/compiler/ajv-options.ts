/**
 * ajv's options for the schemas in schema/, shared by the validators compiled
 * at `npm run gen` time and those compiled at run time by tests: shapes only
 * (no formats, coercion or defaults, so data is never changed), and unions
 * dispatched on their tag (`discriminator`).
 */
export const AJV_OPTIONS = {
  strict: true,
  allErrors: false,
  validateSchema: false,
  allowUnionTypes: true,
  discriminator: true,
  // every $ref a function of its own: union dispatchers stay small enough for V8 to optimize
  inlineRefs: false,
} as const;
