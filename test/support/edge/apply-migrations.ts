/**
 * Setup file of the "edge" vitest project: applies edge/db/migrations to the D1 binding before a
 * test file runs. Test files may start at the same time against the same database; a loser of that
 * race finds the migrations applied by the winner and carries on.
 */
import { applyD1Migrations, env as bindings, type D1Migration } from "cloudflare:test";

// The Worker's bindings plus the migrations vitest.config.ts reads. Not an augmentation of
// `Cloudflare.Env`: that would give the product code test-only bindings too.
const env = bindings as unknown as Env & { TEST_MIGRATIONS: D1Migration[] };

const applied = async (): Promise<boolean> => {
  try {
    const { results } = await env.DB.prepare("SELECT name FROM d1_migrations").all<{ name: string }>();
    const names = new Set(results.map((r) => r.name));
    return env.TEST_MIGRATIONS.every((m) => names.has(m.name));
  } catch {
    return false;
  }
};

for (let attempt = 0; ; attempt++) {
  try {
    await applyD1Migrations(env.DB, env.TEST_MIGRATIONS);
    break;
  } catch (err) {
    if (await applied()) break;
    if (attempt >= 5) throw err;
    await new Promise((r) => setTimeout(r, 50 * (attempt + 1)));
  }
}
