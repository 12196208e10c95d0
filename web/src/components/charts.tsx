// Two small SVG charts for the staff pages (no chart library): horizontal bars for counts by
// name, and a line over days for the daily reports. Each is a <figure> whose SVG is an image
// with a text summary, followed by the same numbers as a table for screen readers and copying.
import type { ReactNode } from "react";
import { formatNumber } from "../lib/format";

export interface Datum {
  label: string;
  value: number;
}

function DataTable({ data, caption, valueLabel }: { data: Datum[]; caption: string; valueLabel: string }) {
  return (
    <details className="chart-data">
      <summary>Data</summary>
      <table>
        <caption className="visually-hidden">{caption}</caption>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">{valueLabel}</th>
          </tr>
        </thead>
        <tbody>
          {data.map((d) => (
            <tr key={d.label}>
              <td>{d.label}</td>
              <td>{formatNumber(d.value)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </details>
  );
}

export function ChartFrame({ title, children }: { title: string; children: ReactNode }) {
  return (
    <figure className="chart">
      <figcaption>{title}</figcaption>
      {children}
    </figure>
  );
}

export function BarChart({ title, data, valueLabel = "Count" }: { title: string; data: Datum[]; valueLabel?: string }) {
  if (data.length === 0) {
    return (
      <ChartFrame title={title}>
        <p className="muted">No data yet.</p>
      </ChartFrame>
    );
  }
  const max = Math.max(1, ...data.map((d) => d.value));
  const row = 26;
  const labelWidth = 140;
  const width = 420;
  const barSpace = width - labelWidth - 48;
  const height = data.length * row + 4;
  const summary = data.map((d) => `${d.label}: ${d.value}`).join(", ");
  return (
    <ChartFrame title={title}>
      <svg viewBox={`0 0 ${width} ${height}`} role="img" aria-label={`${title}. ${summary}`} className="bar-chart">
        {data.map((d, i) => {
          const w = Math.max(d.value > 0 ? 2 : 0, (d.value / max) * barSpace);
          const y = i * row + 2;
          return (
            <g key={d.label}>
              <text x={labelWidth - 8} y={y + 16} textAnchor="end" className="chart-label">
                {d.label.length > 20 ? `${d.label.slice(0, 19)}…` : d.label}
              </text>
              <rect x={labelWidth} y={y + 3} width={w} height={row - 8} rx={3} className="chart-bar" />
              <text x={labelWidth + w + 6} y={y + 16} className="chart-value">
                {formatNumber(d.value)}
              </text>
            </g>
          );
        })}
      </svg>
      <DataTable data={data} caption={title} valueLabel={valueLabel} />
    </ChartFrame>
  );
}

/** Values over days, oldest on the left; several series share the axis. */
export function LineChart({ title, days, series }: { title: string; days: string[]; series: { name: string; values: number[] }[] }) {
  if (days.length === 0) {
    return (
      <ChartFrame title={title}>
        <p className="muted">No reports yet.</p>
      </ChartFrame>
    );
  }
  const width = 480;
  const height = 200;
  const pad = { left: 40, right: 12, top: 10, bottom: 28 };
  const max = Math.max(1, ...series.flatMap((s) => s.values));
  const x = (i: number) => pad.left + (days.length === 1 ? (width - pad.left - pad.right) / 2 : (i / (days.length - 1)) * (width - pad.left - pad.right));
  const y = (v: number) => pad.top + (1 - v / max) * (height - pad.top - pad.bottom);
  const summary = series.map((s) => `${s.name}: ${s.values.join(", ")}`).join("; ");
  return (
    <ChartFrame title={title}>
      <svg viewBox={`0 0 ${width} ${height}`} role="img" aria-label={`${title} for ${days[0]} to ${days[days.length - 1]}. ${summary}`} className="line-chart">
        <line x1={pad.left} x2={width - pad.right} y1={y(0)} y2={y(0)} className="chart-axis" />
        <text x={pad.left - 6} y={y(max) + 4} textAnchor="end" className="chart-label">
          {formatNumber(max)}
        </text>
        <text x={pad.left - 6} y={y(0) + 4} textAnchor="end" className="chart-label">
          0
        </text>
        <text x={x(0)} y={height - 8} textAnchor="start" className="chart-label">
          {days[0]}
        </text>
        {days.length > 1 && (
          <text x={x(days.length - 1)} y={height - 8} textAnchor="end" className="chart-label">
            {days[days.length - 1]}
          </text>
        )}
        {series.map((s, index) => (
          <g key={s.name} className={`series series-${index}`}>
            <polyline fill="none" strokeWidth={2} points={s.values.map((v, i) => `${x(i)},${y(v)}`).join(" ")} />
            {s.values.map((v, i) => (
              <circle key={i} cx={x(i)} cy={y(v)} r={3} />
            ))}
          </g>
        ))}
      </svg>
      <ul className="legend">
        {series.map((s, index) => (
          <li key={s.name} className={`series-${index}`}>
            <span className="swatch" aria-hidden="true" /> {s.name}
          </li>
        ))}
      </ul>
    </ChartFrame>
  );
}
