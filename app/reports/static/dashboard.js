/* MotCua report dashboards: Chart.js (served by the app from node_modules) over the JSON the page embeds.
 * The tables under each chart hold the same numbers; without JavaScript the page shows only them. */
(function () {
  'use strict';

  function start() {
    var source = document.getElementById('report-data');
    if (!source || typeof window.Chart !== 'function') return;
    var data = JSON.parse(source.textContent);
    var common = { responsive: true, maintainAspectRatio: false, animation: false };

    var trend = document.getElementById('trend-chart');
    if (trend) {
      new window.Chart(trend, {
        type: 'bar',
        data: {
          labels: data.trend.labels,
          datasets: [
            { label: 'Tiếp nhận', data: data.trend.received, backgroundColor: '#1d70b8' },
            { label: 'Đúng hạn', data: data.trend.on_time, backgroundColor: '#00703c' },
            { label: 'Quá hạn', data: data.trend.late, backgroundColor: '#d4351c' },
            { label: 'Tỷ lệ trực tuyến (%)', data: data.trend.online_ratio, type: 'line', yAxisID: 'pct',
              borderColor: '#6f3c97', backgroundColor: '#6f3c97' }
          ]
        },
        options: Object.assign({}, common, {
          scales: { y: { beginAtZero: true, title: { display: true, text: 'Hồ sơ' } },
                    pct: { position: 'right', min: 0, max: 100, grid: { drawOnChartArea: false },
                           title: { display: true, text: '%' } } }
        })
      });
      trend.setAttribute('data-ready', 'true');
    }
    var agencies = document.getElementById('agencies-chart');
    if (agencies) {
      new window.Chart(agencies, {
        type: 'bar',
        data: {
          labels: data.agencies.labels,
          datasets: [
            { label: 'Tỷ lệ đúng hạn (%)', data: data.agencies.on_time_ratio, backgroundColor: '#00703c' },
            { label: 'Tỷ lệ trực tuyến (%)', data: data.agencies.online_ratio, backgroundColor: '#1d70b8' },
            { label: 'Tỷ lệ hài lòng (%)', data: data.agencies.satisfied_ratio, backgroundColor: '#f47738' }
          ]
        },
        options: Object.assign({}, common, { indexAxis: 'y', scales: { x: { min: 0, max: 100 } } })
      });
      agencies.setAttribute('data-ready', 'true');
    }
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', start);
  } else {
    start();
  }
}());
