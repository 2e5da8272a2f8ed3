/**
 * Reads schema files into a flat list of top-level expressions, expanding
 * `include` in place (relative to the including file, each file once) and
 * collecting pragmas. Modules are listed in first-include order, which is the
 * order QEMU's introspection visits commands and events in.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Lexer, T, type Token } from './lexer.js';
import { isSObject, QapiSchemaError, SObject, type SourceInfo, type SValue } from './source.js';

export interface ParsedExpr {
  readonly expr: SObject;
  readonly info: SourceInfo;
  /** The file (module) that defines it. */
  readonly module: string;
}

export interface Pragmas {
  docRequired: boolean;
  commandNameExceptions: Set<string>;
  commandReturnsExceptions: Set<string>;
  memberNameExceptions: Set<string>;
}

export interface ParsedSchema {
  readonly exprs: ParsedExpr[];
  readonly modules: string[];
  readonly pragmas: Pragmas;
}

/** Deepest include chain; a cycle is reported before this is reached. */
export const MAX_INCLUDE_DEPTH = 64;

class ExprParser {
  private tok: Token;
  constructor(
    private readonly lexer: Lexer,
    private readonly file: string,
  ) {
    this.tok = lexer.next();
  }

  private fail(msg: string): never {
    const what = this.tok.type === T.Eof ? `${msg} (end of file)` : msg;
    throw new QapiSchemaError({ file: this.file, line: this.tok.line }, what);
  }

  // A method, so TypeScript does not narrow the token type across advance().
  private peek(): T {
    return this.tok.type;
  }

  private advance(): Token {
    const t = this.tok;
    this.tok = this.lexer.next();
    return t;
  }

  atEnd(): boolean {
    return this.peek() === T.Eof;
  }

  topLevel(): SObject {
    if (this.peek() !== T.LBrace) this.fail('expected \'{\'');
    return this.object();
  }

  private value(): SValue {
    switch (this.peek()) {
      case T.LBrace:
        return this.object();
      case T.LBracket:
        return this.array();
      case T.Str:
        return this.advance().value;
      case T.True:
        this.advance();
        return true;
      case T.False:
        this.advance();
        return false;
      default:
        return this.fail("expected '{', '[', string, or boolean");
    }
  }

  private object(): SObject {
    const obj = new SObject({ file: this.file, line: this.tok.line });
    this.advance();
    if (this.peek() === T.RBrace) {
      this.advance();
      return obj;
    }
    for (;;) {
      if (this.peek() !== T.Str) this.fail('expected string');
      const key = this.advance().value;
      if (this.peek() !== T.Colon) this.fail("expected ':'");
      this.advance();
      if (obj.has(key)) this.fail(`duplicate key '${key}'`);
      obj.entries.set(key, this.value());
      if (this.peek() === T.RBrace) {
        this.advance();
        return obj;
      }
      if (this.peek() !== T.Comma) this.fail("expected ',' or '}'");
      this.advance();
    }
  }

  private array(): SValue[] {
    const out: SValue[] = [];
    this.advance();
    if (this.peek() === T.RBracket) {
      this.advance();
      return out;
    }
    for (;;) {
      out.push(this.value());
      if (this.peek() === T.RBracket) {
        this.advance();
        return out;
      }
      if (this.peek() !== T.Comma) this.fail("expected ',' or ']'");
      this.advance();
    }
  }
}

function strList(v: SValue, info: SourceInfo, key: string): Set<string> {
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) {
    throw new QapiSchemaError(info, `value of pragma '${key}' must be a list of strings`);
  }
  return new Set(v as string[]);
}

function applyPragma(p: Pragmas, obj: SValue, info: SourceInfo): void {
  if (!isSObject(obj)) throw new QapiSchemaError(info, "value of 'pragma' must be an object");
  for (const [key, v] of obj.entries) {
    if (key === 'doc-required') {
      if (typeof v !== 'boolean') throw new QapiSchemaError(info, "pragma 'doc-required' must be boolean");
      p.docRequired = v;
    } else if (key === 'command-name-exceptions') {
      p.commandNameExceptions = strList(v, info, key);
    } else if (key === 'command-returns-exceptions') {
      p.commandReturnsExceptions = strList(v, info, key);
    } else if (key === 'member-name-exceptions') {
      p.memberNameExceptions = strList(v, info, key);
    } else {
      throw new QapiSchemaError(info, `unknown pragma '${key}'`);
    }
  }
}

/** `displayRoot` is what error messages print file names relative to. */
export function parseSchema(mainFile: string, displayRoot = process.cwd()): ParsedSchema {
  const exprs: ParsedExpr[] = [];
  const modules: string[] = [];
  const seen = new Set<string>();
  const pragmas: Pragmas = {
    docRequired: false,
    commandNameExceptions: new Set(),
    commandReturnsExceptions: new Set(),
    memberNameExceptions: new Set(),
  };

  const visit = (file: string, stack: string[], includedFrom?: SourceInfo): void => {
    const abs = path.resolve(file);
    const display = path.relative(displayRoot, abs) || abs;
    if (stack.includes(abs)) throw new QapiSchemaError(includedFrom, `inclusion loop for ${display}`);
    if (seen.has(abs)) return;
    if (stack.length >= MAX_INCLUDE_DEPTH) throw new QapiSchemaError(includedFrom, 'includes nested too deeply');
    let text: string;
    try {
      text = readFileSync(abs, 'utf8');
    } catch (err) {
      const why = err instanceof Error && 'code' in err ? String(err.code) : 'unreadable';
      throw new QapiSchemaError(includedFrom, `can't read ${includedFrom ? 'include ' : ''}file '${display}': ${why}`);
    }
    seen.add(abs);
    modules.push(display);
    const parser = new ExprParser(new Lexer(text, display), display);
    while (!parser.atEnd()) {
      const expr = parser.topLevel();
      const info = expr.info;
      if (expr.has('include')) {
        const inc = expr.get('include');
        if (expr.keys().length !== 1 || typeof inc !== 'string') {
          throw new QapiSchemaError(info, "invalid 'include' directive");
        }
        visit(path.resolve(path.dirname(abs), inc), [...stack, abs], info);
      } else if (expr.has('pragma')) {
        if (expr.keys().length !== 1) throw new QapiSchemaError(info, "invalid 'pragma' directive");
        applyPragma(pragmas, expr.get('pragma')!, info);
      } else {
        exprs.push({ expr, info, module: display });
      }
    }
  };
  visit(mainFile, []);
  return { exprs, modules, pragmas };
}
