/** Transaction action types by wire name; each action type is one file in actions/. */
import type { ActionType } from './action.js';

const actionTypes = new Map<string, ActionType>();

export function registerAction(type: ActionType): void {
  if (actionTypes.has(type.name)) throw new Error(`transaction action ${type.name} registered twice`);
  actionTypes.set(type.name, type);
}

export function findAction(name: string): ActionType | undefined {
  return actionTypes.get(name);
}
