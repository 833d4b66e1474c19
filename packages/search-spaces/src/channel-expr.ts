/**
 * Channel roles: a channel count in a search-space document is an integer or a small arithmetic
 * expression over the space's variables, so that one document instantiates at any width:
 * `C` (the channel width), `s` (the scale) and `N` (the cell count). Grammar:
 * `expr = term (('+' | '-') term)*`, `term = factor (('*' | '/') factor)*`,
 * `factor = integer | C | s | N | '(' expr ')'`. Division must be exact (an error otherwise).
 */
export type ChannelVariable = 'C' | 's' | 'N';
export type ChannelExpr = number | string;
export type ChannelEnv = Readonly<Record<ChannelVariable, number>>;

type Ast =
  | { readonly kind: 'num'; readonly value: number }
  | { readonly kind: 'var'; readonly name: ChannelVariable }
  | { readonly kind: 'bin'; readonly op: '+' | '-' | '*' | '/'; readonly left: Ast; readonly right: Ast };

const VARIABLES: readonly string[] = ['C', 's', 'N'];
const cache = new Map<string, Ast>();

/** Parses an expression; throws with the offending position for malformed text. */
export function parseChannelExpr(text: string): Ast {
  const hit = cache.get(text);
  if (hit) return hit;
  const tokens = text.match(/\d+|[A-Za-z_]\w*|[()+\-*/]|\S/g) ?? [];
  let pos = 0;
  const peek = () => tokens[pos];
  const fail = (what: string): never => {
    throw new Error(`channel expression '${text}': ${what}`);
  };
  const factor = (): Ast => {
    const t = tokens[pos++];
    if (t === undefined) return fail('ends too early');
    if (/^\d+$/.test(t)) return { kind: 'num', value: Number(t) };
    if (VARIABLES.includes(t)) return { kind: 'var', name: t as ChannelVariable };
    if (t === '(') {
      const inner = expr();
      if (tokens[pos++] !== ')') fail("a '(' is not closed");
      return inner;
    }
    if (/^[A-Za-z_]/.test(t)) return fail(`unknown variable '${t}' (use C, s or N)`);
    return fail(`unexpected '${t}'`);
  };
  const term = (): Ast => {
    let left = factor();
    while (peek() === '*' || peek() === '/') {
      const op = tokens[pos++] as '*' | '/';
      left = { kind: 'bin', op, left, right: factor() };
    }
    return left;
  };
  const expr = (): Ast => {
    let left = term();
    while (peek() === '+' || peek() === '-') {
      const op = tokens[pos++] as '+' | '-';
      left = { kind: 'bin', op, left, right: term() };
    }
    return left;
  };
  const ast = expr();
  if (pos !== tokens.length) fail(`unexpected '${tokens[pos]}'`);
  cache.set(text, ast);
  return ast;
}

function evaluate(ast: Ast, env: ChannelEnv, text: string): number {
  switch (ast.kind) {
    case 'num':
      return ast.value;
    case 'var':
      return env[ast.name];
    case 'bin': {
      const a = evaluate(ast.left, env, text);
      const b = evaluate(ast.right, env, text);
      switch (ast.op) {
        case '+':
          return a + b;
        case '-':
          return a - b;
        case '*':
          return a * b;
        case '/':
          if (b === 0 || a % b !== 0) {
            throw new Error(`channel expression '${text}': ${a}/${b} is not an integer (C = ${env.C}, s = ${env.s}, N = ${env.N})`);
          }
          return a / b;
      }
    }
  }
}

/** The value of a channel expression; it must be a positive integer. */
export function evalChannelExpr(expr: ChannelExpr, env: ChannelEnv): number {
  const text = String(expr);
  const value = typeof expr === 'number' ? expr : evaluate(parseChannelExpr(expr), env, text);
  if (!Number.isInteger(value) || value < 1) {
    throw new Error(`channel expression '${text}' gives ${value} (C = ${env.C}, s = ${env.s}, N = ${env.N}); it must be a positive integer`);
  }
  return value;
}
