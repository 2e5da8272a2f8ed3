import { describe, expect, it } from 'vitest';
import { loadCommandSchemas, rewriteRefs } from '../../../src/transports/http-schema.js';
import { buildOpenApi } from '../../../src/transports/openapi.js';

type Doc = {
  openapi: string;
  paths: Record<string, Record<string, { operationId?: string; deprecated?: boolean; requestBody?: unknown }>>;
  components: { schemas: Record<string, unknown> };
  security: unknown[];
};

describe('buildOpenApi', () => {
  const schemas = loadCommandSchemas();
  const commands = [...schemas.commands.keys()].map((name) => ({ name, features: name === 'blockdev-reopen' ? ['deprecated'] : [] }));

  it('has one POST path per command, named by operationId', () => {
    const doc = buildOpenApi({ schemas, commands, version: '1', tokenRequired: false }) as Doc;
    expect(doc.openapi).toBe('3.1.0');
    for (const { name } of commands) expect(doc.paths[`/api/v1/commands/${name}`]?.post?.operationId).toBe(name);
    expect(doc.paths['/api/v1/commands/blockdev-reopen']?.post?.deprecated).toBe(true);
  });

  it('points every $ref at a schema under components', () => {
    const doc = buildOpenApi({ schemas, commands, version: '1', tokenRequired: false }) as Doc;
    const text = JSON.stringify(doc);
    expect(text).not.toContain('$defs');
    for (const m of text.matchAll(/"\$ref":"#\/components\/schemas\/([^"]+)"/g)) {
      expect(doc.components.schemas, m[1]).toHaveProperty([m[1]!]);
    }
  });

  it('requires bearer auth only when a token is configured', () => {
    expect((buildOpenApi({ schemas, commands, version: '1', tokenRequired: true }) as Doc).security).toEqual([{ bearer: [] }]);
    expect((buildOpenApi({ schemas, commands, version: '1', tokenRequired: false }) as Doc).security).toEqual([{}]);
  });
});

describe('rewriteRefs', () => {
  it('maps nested refs and drops file-level keys only at the top', () => {
    const out = rewriteRefs(
      { $id: 'x', $schema: 'y', a: [{ $ref: '#/$defs/A' }], b: { $id: 'kept', $ref: '../f.json#/$defs/B' } },
      (r) => r.toUpperCase(),
    );
    expect(out).toEqual({ a: [{ $ref: '#/$DEFS/A' }], b: { $id: 'kept', $ref: '../F.JSON#/$DEFS/B' } });
  });
});
