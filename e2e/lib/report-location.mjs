// A Playwright reporter that ends the run by saying where the HTML report is,
// so `make e2e` leaves the path on screen.
import path from 'node:path';

export default class ReportLocation {
  constructor(options = {}) {
    this.folder = options.outputFolder || 'playwright-report';
  }

  onBegin(config) {
    this.dir = path.resolve(config.rootDir, '..', this.folder);
    if (config.configFile) this.dir = path.resolve(path.dirname(config.configFile), this.folder);
  }

  onEnd() {
    console.log(`\nHTML report: ${path.join(this.dir, 'index.html')}`);
    console.log(`  open it with: (cd ${path.relative(process.cwd(), path.dirname(this.dir)) || '.'} && npx playwright show-report ${this.folder})`);
  }

  printsToStdio() {
    return false;
  }
}
