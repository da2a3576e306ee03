/** What a user does on the explorer's page, as the tests say it. */
import type { Page } from 'playwright-core'

export class ExplorerPage {
  constructor (readonly page: Page) {}

  async newSession (kernel: '2.6.11' | '6.18'): Promise<string> {
    await this.page.getByLabel('Kernel model').selectOption(kernel)
    await this.page.getByRole('button', { name: 'New session' }).click()
    await this.page.getByTestId('session-id').waitFor()
    await this.page.getByTestId('link-state').getByText('live').waitFor()
    return (await this.page.getByTestId('session-id').textContent()) ?? ''
  }

  async openSession (id: string, token: string): Promise<void> {
    await this.page.getByLabel('Session id').fill(id)
    await this.page.getByLabel('Token').fill(token)
    await this.page.getByRole('button', { name: 'Open', exact: true }).click()
    await this.page.getByTestId('session-id').getByText(id).waitFor()
  }

  async token (): Promise<string> {
    await this.page.getByRole('button', { name: 'Show token' }).click()
    const token = (await this.page.getByLabel('Session token').textContent()) ?? ''
    await this.page.getByRole('button', { name: 'Hide token' }).click()
    return token
  }

  /** Runs one operation from its form and waits for its line in the results. */
  async run (op: string, fields: Record<string, string> = {}): Promise<string> {
    const newest = this.page.locator('[data-testid="op-log"] li[data-entry]').first()
    const before = await newest.count() === 0 ? '0' : await newest.getAttribute('data-entry')
    await this.page.getByTestId('op-select').selectOption(op)
    for (const [name, value] of Object.entries(fields)) {
      const control = this.page.locator(`.op-form [name="${name}"]`)
      const kind = await control.evaluate((el) => el instanceof HTMLSelectElement ? 'select' : (el as HTMLInputElement).type)
      if (kind === 'select') await control.selectOption(value)
      else if (kind === 'checkbox') await control.setChecked(value === 'true')
      else await control.fill(value)
    }
    await this.page.getByTestId('run-op').click()
    await this.page.waitForFunction((prev) => (document.querySelector('[data-testid="op-log"] li[data-entry]')?.getAttribute('data-entry') ?? '0') !== prev, before)
    return (await newest.textContent()) ?? ''
  }

  async tab (name: 'Processes' | 'Frames' | 'Files' | 'Events'): Promise<void> {
    await this.page.getByRole('tab', { name }).click()
  }

  async selectFrame (pfn: number): Promise<void> {
    await this.tab('Frames')
    await this.page.getByTestId(`frame-${pfn}`).getByRole('button').click()
    await this.page.getByTestId('diagram').getByRole('heading', { name: new RegExp(`^Frame ${pfn}:`) }).waitFor()
  }

  /** Waits until the diagram's walk reports `n` mappings. */
  async expectMappings (n: number): Promise<void> {
    await this.page.getByTestId('mapping-count').getByText(new RegExp(`^${n} mappings? found`)).waitFor()
  }

  async stepNote (): Promise<string> {
    return (await this.page.getByTestId('step-note').textContent()) ?? ''
  }
}
