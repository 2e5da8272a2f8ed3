/** Checked, normalized top-level definitions (the output of expr.ts). */
import type { SourceInfo } from './source.js';

export type Cond = string | { all: Cond[] } | { any: Cond[] } | { not: Cond };

export interface FeatureDef {
  readonly name: string;
  readonly ifcond?: Cond;
}

/** `'str'` or `['str']`. */
export interface TypeRefDef {
  readonly name: string;
  readonly array: boolean;
}

export interface MemberDef {
  readonly name: string;
  readonly optional: boolean;
  readonly type: TypeRefDef;
  readonly ifcond?: Cond;
  readonly features: FeatureDef[];
  readonly info: SourceInfo;
}

export interface EnumValueDef {
  readonly name: string;
  readonly ifcond?: Cond;
  readonly features: FeatureDef[];
}

export interface BranchDef {
  readonly name: string;
  readonly type: TypeRefDef;
  readonly ifcond?: Cond;
  readonly info: SourceInfo;
}

interface DefBase {
  readonly name: string;
  readonly info: SourceInfo;
  readonly module: string;
  readonly ifcond?: Cond;
  readonly features: FeatureDef[];
}

export interface EnumDef extends DefBase {
  readonly meta: 'enum';
  readonly values: EnumValueDef[];
}

export interface StructDef extends DefBase {
  readonly meta: 'struct';
  readonly base?: string;
  readonly data: MemberDef[];
}

export interface UnionDef extends DefBase {
  readonly meta: 'union';
  readonly base: string | MemberDef[];
  readonly discriminator: string;
  readonly branches: BranchDef[];
}

export interface AlternateDef extends DefBase {
  readonly meta: 'alternate';
  readonly branches: BranchDef[];
}

export interface CommandDef extends DefBase {
  readonly meta: 'command';
  readonly data?: string | MemberDef[];
  readonly boxed: boolean;
  readonly returns?: TypeRefDef;
  readonly allowOob: boolean;
  readonly successResponse: boolean;
  readonly gen: boolean;
}

export interface EventDef extends DefBase {
  readonly meta: 'event';
  readonly data?: string | MemberDef[];
  readonly boxed: boolean;
}

export type Definition = EnumDef | StructDef | UnionDef | AlternateDef | CommandDef | EventDef;
