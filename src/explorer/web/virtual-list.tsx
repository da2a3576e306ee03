/**
 * A virtualised list (@tanstack/virtual-core): only the rows in view, plus a few, are in the page, so
 * a frame with 1,000 mappings or a log of thousands of events scrolls as lightly as ten. Rows carry
 * aria-posinset/aria-setsize so assistive technology knows where it is; the arrow keys, Home and End
 * move focus between the rows' primary controls (marked data-primary), scrolling as needed.
 */
import { elementScroll, observeElementOffset, observeElementRect, Virtualizer, type VirtualizerOptions } from '@tanstack/virtual-core'
import type { ComponentChildren } from 'preact'
import { useEffect, useLayoutEffect, useReducer, useRef, useState } from 'preact/hooks'

interface Props {
  label: string
  count: number
  rowHeight: number
  renderRow: (index: number) => ComponentChildren
  rowKey?: (index: number) => string | number
  /** Scrolls this row into view whenever it changes. */
  scrollTo?: number
  /** Called when the rows in view reach this close to the end (loading more). */
  onNearEnd?: () => void
  class?: string
}

type Options = VirtualizerOptions<HTMLDivElement, Element>

export function VirtualList (props: Props) {
  const scroller = useRef<HTMLDivElement>(null)
  const [, rerender] = useReducer((n: number) => n + 1, 0)
  const options: Options = {
    count: props.count,
    getScrollElement: () => scroller.current,
    estimateSize: () => props.rowHeight,
    getItemKey: props.rowKey ?? ((i) => i),
    overscan: 6,
    observeElementRect,
    observeElementOffset,
    scrollToFn: elementScroll,
    onChange: () => rerender(undefined)
  }
  const [virtualizer] = useState(() => new Virtualizer(options))
  virtualizer.setOptions(options)
  useLayoutEffect(() => virtualizer._didMount(), [])
  useLayoutEffect(() => { virtualizer._willUpdate() })
  useEffect(() => {
    if (props.scrollTo !== undefined && props.scrollTo >= 0 && props.scrollTo < props.count) virtualizer.scrollToIndex(props.scrollTo, { align: 'auto' })
  }, [props.scrollTo])

  const items = virtualizer.getVirtualItems()
  const last = items.length > 0 ? items[items.length - 1].index : -1
  useEffect(() => {
    if (props.onNearEnd !== undefined && last >= props.count - 20) props.onNearEnd()
  }, [last, props.count])

  const onKeyDown = (e: KeyboardEvent): void => {
    const row = (e.target as HTMLElement).closest<HTMLElement>('[data-index]')
    if (row === null) return
    const at = Number(row.dataset.index)
    const to = e.key === 'ArrowDown' ? at + 1 : e.key === 'ArrowUp' ? at - 1 : e.key === 'Home' ? 0 : e.key === 'End' ? props.count - 1 : null
    if (to === null || to < 0 || to >= props.count) return
    e.preventDefault()
    virtualizer.scrollToIndex(to, { align: 'auto' })
    const focus = (tries: number): void => {
      const el = scroller.current?.querySelector<HTMLElement>(`[data-index="${to}"] [data-primary]`)
      if (el !== null && el !== undefined) el.focus()
      else if (tries > 0) requestAnimationFrame(() => focus(tries - 1))
    }
    requestAnimationFrame(() => focus(5))
  }

  return (
    <div ref={scroller} class={`vlist ${props.class ?? ''}`} role='list' aria-label={props.label} onKeyDown={onKeyDown} tabIndex={-1}>
      <div class='vlist-space' style={{ height: `${virtualizer.getTotalSize()}px` }}>
        {items.map((item) => (
          <div
            key={item.key}
            role='listitem'
            class='vlist-row'
            data-index={item.index}
            aria-posinset={item.index + 1}
            aria-setsize={props.count}
            style={{ transform: `translateY(${item.start}px)`, height: `${props.rowHeight}px` }}
          >
            {props.renderRow(item.index)}
          </div>
        ))}
      </div>
    </div>
  )
}
