// Placeholder for tasks whose issues have not landed: says so in one line and exits 1.

const [task = "this task", issue = "?"] = Deno.args;
console.error(`pose-exporter: 'deno task ${task}' is not built yet (tracked in issue ${issue})`);
Deno.exit(1);
