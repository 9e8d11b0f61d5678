import { Listr } from 'listr2';
import { installLambdaRuntime } from '../lambda/artifacts';
import { loadStackConfig } from './config';
import { StackError } from './errors';
import { logTail } from './process';
import { stackServers } from './servers';
import { cfnLintBinary, clean, composeBinary, down, fastavroPython, installTasks, status, up } from './stack';

const USAGE = `usage: npm run stack -- <command>
  up       fetch what is missing, start Kafka, the CQL server, the schema registry and Prometheus, wait until healthy
  down     stop what \`up\` started
  status   each server, its address, pid, memory and health (exit 1 unless all are healthy)
  logs [server]  the tail of each server's log
  install  fetch and build every artifact (servers and dev tools) without starting anything
  clean    down, then delete the servers' data and logs (the artifact cache stays)`;

async function main(command: string | undefined, args: string[]): Promise<number> {
  const config = loadStackConfig();
  switch (command) {
    case 'up':
      await up(config);
      return 0;
    case 'down':
      await down(config);
      return 0;
    case 'status': {
      const rows = await status(config);
      for (const row of rows) {
        const mem = row.rssMiB === undefined ? '' : `  rss ${row.rssMiB} MiB`;
        const pid = row.pid === undefined ? '' : `  pid ${row.pid}`;
        console.log(
          `${row.healthy ? 'healthy  ' : 'UNHEALTHY'}  ${row.name.padEnd(16)} ${row.address.padEnd(24)}${pid}${mem}  ${row.detail}`,
        );
      }
      return rows.every((row) => row.healthy) ? 0 : 1;
    }
    case 'logs':
      for (const server of stackServers(config).filter((s) => args.length === 0 || args.includes(s.name))) {
        console.log(`==> ${server.logFile} <==\n${await logTail(server.logFile)}`);
      }
      return 0;
    case 'install':
      await new Listr(
        [
          ...installTasks(stackServers(config)),
          {
            title: 'compose-spec (compose-go: validates docker-compose.yml)',
            task: async () => void (await composeBinary(config)),
          },
          {
            title: 'cfn-lint (lints the synthesized CloudFormation templates)',
            task: async () => void (await cfnLintBinary(config)),
          },
          {
            title: 'fastavro (writes the cross-implementation Avro corpus)',
            task: async () => void (await fastavroPython(config)),
          },
          {
            title: "Lambda's runtime pieces: the Runtime Interface Emulator, aws-lambda-ric built for Node 24",
            task: async () => void (await installLambdaRuntime(config.artifactsDir)),
          },
        ],
        { concurrent: true },
      ).run();
      return 0;
    case 'clean':
      await clean(config);
      return 0;
    default:
      console.error(USAGE);
      return 2;
  }
}

main(process.argv[2], process.argv.slice(3)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof StackError) {
      console.error(`\nstack: ${error.message}`);
    } else {
      console.error(error);
    }
    process.exit(1);
  },
);
